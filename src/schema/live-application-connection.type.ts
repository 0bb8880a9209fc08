import 'reflect-metadata';
import { Field, ObjectType } from 'type-graphql';
import { LiveApplication } from './live-application.type.js';
import { PageInfo } from './page-info.type.js';

@ObjectType({ simpleResolvers: true })
export class LiveApplicationEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => LiveApplication)
  node!: LiveApplication;
}

@ObjectType({ simpleResolvers: true, description: 'Newest first (Relay connection).' })
export class LiveApplicationConnection {
  @Field(() => [LiveApplicationEdge])
  edges!: LiveApplicationEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}
