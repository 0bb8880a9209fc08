import 'reflect-metadata';
import { Field, InputType } from 'type-graphql';
import type { ApplicationStatus } from '../db/tables.js';
import { LiveApplicationStatus } from './live-application-status.enum.js';

@InputType()
export class LiveApplicationFilter {
  @Field(() => String, { nullable: true })
  appId?: string | null;

  @Field(() => [LiveApplicationStatus], { nullable: true, description: 'Any of these statuses.' })
  status?: ApplicationStatus[] | null;
}
