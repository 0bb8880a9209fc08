import 'reflect-metadata';
import { registerEnumType } from 'type-graphql';

export const AuthorizerStatus = {
  AUTHORIZED: 'AUTHORIZED',
  REVOKED: 'REVOKED',
} as const;

registerEnumType(AuthorizerStatus, { name: 'AuthorizerStatus' });
