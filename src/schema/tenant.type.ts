import 'reflect-metadata';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { DateTimeScalar } from './date-time.scalar.js';

@ObjectType({ simpleResolvers: true, description: 'The service provider the API key belongs to, with its quota settings.' })
export class Tenant {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  name!: string;

  @Field(() => String)
  componentAppId!: string;

  @Field(() => Int)
  dailyQuotaPerApp!: number;

  @Field(() => Int, { nullable: true, description: 'null = unlimited' })
  dailyQuotaPerTenant!: number | null;

  @Field(() => Int)
  callsPerSecond!: number;

  @Field(() => String, {
    description: 'The scope of the key used for this request: write when it holds write, else read, else its first scope.',
    deprecationReason: 'A key holds a set of scopes now; read `scopes`.',
  })
  scope!: string;

  @Field(() => [String], { description: 'The scopes of the key used for this request: read, write, token, admin.' })
  scopes!: string[];

  @Field(() => DateTimeScalar)
  createdAt!: Date;
}
