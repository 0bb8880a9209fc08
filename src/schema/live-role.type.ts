import 'reflect-metadata';
import { Field, Int, ObjectType, registerEnumType } from 'type-graphql';
import type { LiveRoleName } from '../services/live-ops/live-roles.service.js';
import { DateTimeScalar } from './date-time.scalar.js';
import { UserError } from './user-error.type.js';

export const LiveRole = { ADMIN: 'ADMIN', ANCHOR: 'ANCHOR', OPERATOR: 'OPERATOR' } as const satisfies Record<LiveRoleName, LiveRoleName>;

registerEnumType(LiveRole, {
  name: 'LiveRole',
  description: 'A live role (WeChat role 1, 2, 3). WeChat allows 10 admins, 500 anchors and 500 operators per Mini Program.',
});

@ObjectType({ simpleResolvers: true, description: 'A WeChat user with live roles on the merchant.' })
export class LiveRoleMember {
  @Field(() => String, { description: 'WeChat id (微信号), masked by WeChat.' })
  username!: string;

  @Field(() => String)
  nickname!: string;

  @Field(() => String)
  openid!: string;

  @Field(() => String)
  headImgUrl!: string;

  @Field(() => [LiveRole])
  roles!: LiveRoleName[];

  @Field(() => DateTimeScalar)
  updatedAt!: Date;
}

@ObjectType({ simpleResolvers: true, description: 'Members read through WeChat (role quota), at most 30 a page.' })
export class LiveRoleList {
  @Field(() => [LiveRoleMember])
  members!: LiveRoleMember[];

  @Field(() => Int)
  total!: number;

  @Field(() => [UserError])
  userErrors!: UserError[];
}
