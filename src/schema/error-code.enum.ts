import 'reflect-metadata';
import { registerEnumType } from 'type-graphql';
import { ERROR_CODES, type ErrorCode as ErrorCodeName } from '../services/errors.js';

/** The closed vocabulary of src/services/errors.ts as a GraphQL enum, each value described by what to do about it. */
export const ErrorCode = Object.fromEntries(Object.keys(ERROR_CODES).map((code) => [code, code])) as { [C in ErrorCodeName]: C };

registerEnumType(ErrorCode, {
  name: 'ErrorCode',
  description: 'Stable codes of expected failures (userErrors, errorCode, and extensions.code of errors).',
  valuesConfig: Object.fromEntries(Object.entries(ERROR_CODES).map(([code, description]) => [code, { description }])),
});
