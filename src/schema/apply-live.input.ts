import 'reflect-metadata';
import { Field, InputType } from 'type-graphql';

@InputType()
export class ApplyLiveInput {
  @Field(() => String, { description: 'The merchant Mini Program app id: "wx" + 16 hex characters.' })
  appId!: string;

  @Field(() => String, { nullable: true, description: 'Same key, same application: retrying a timed-out call never applies twice.' })
  idempotencyKey?: string | null;
}
