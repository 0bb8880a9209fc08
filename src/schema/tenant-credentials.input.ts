import 'reflect-metadata';
import { Field, InputType } from 'type-graphql';

@InputType({ description: 'New values from the Open Platform console; omitted ones stay as they are.' })
export class UpdateTenantCredentialsInput {
  @Field(() => String, { nullable: true, description: 'The message token: 3 to 32 letters and digits.' })
  token?: string | null;

  @Field(() => String, { nullable: true, description: 'The EncodingAESKey: 43 base64 characters (32 bytes).' })
  encodingAesKey?: string | null;

  @Field(() => String, { nullable: true, description: 'The component AppSecret; the cached component access token is dropped and fetched again with it.' })
  componentAppSecret?: string | null;
}
