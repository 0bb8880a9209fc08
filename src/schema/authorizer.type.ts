import 'reflect-metadata';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { AuthorizerStatus } from './authorizer-status.enum.js';
import { DateTimeScalar } from './date-time.scalar.js';
import { PageInfo } from './page-info.type.js';

@ObjectType({ simpleResolvers: true, description: 'A merchant Mini Program authorized to the provider.' })
export class Authorizer {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  appId!: string;

  @Field(() => AuthorizerStatus)
  status!: string;

  @Field(() => [Int], { description: 'Granted permission sets; live broadcasting needs 52.' })
  permissionSets!: number[];

  @Field(() => Boolean, { description: 'Live broadcasting is open (from a push, even one we did not ask for).' })
  liveOpen!: boolean;

  @Field(() => DateTimeScalar, { nullable: true })
  liveOpenedAt!: Date | null;

  @Field(() => DateTimeScalar)
  createdAt!: Date;

  @Field(() => DateTimeScalar)
  updatedAt!: Date;
}

@ObjectType({ simpleResolvers: true })
export class AuthorizerEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => Authorizer)
  node!: Authorizer;
}

@ObjectType({ simpleResolvers: true, description: 'Newest first (Relay connection).' })
export class AuthorizerConnection {
  @Field(() => [AuthorizerEdge])
  edges!: AuthorizerEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int, { description: "Exact: all the tenant's merchants, on all pages, counted on an index when this page is read." })
  totalCount!: number;
}
