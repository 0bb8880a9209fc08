import 'reflect-metadata';
import { Field, Int, ObjectType } from 'type-graphql';
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

  @Field(() => Int, {
    description:
      "Exact: every application the filter matches, on all pages, counted when this page is read (read it only when you show it: it counts all the tenant's applications, or one merchant's with filter.appId, on an index).",
  })
  totalCount!: number;
}
