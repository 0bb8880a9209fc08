import type { Command } from '../command.js';
import { apikeyCreate, apikeyList, apikeyRevoke } from './apikey.commands.js';
import { applicationList } from './application.commands.js';
import { apply } from './apply.command.js';
import { authorizerImport } from './authorizer.commands.js';
import { goodsList, roomCreate, roomList } from './live.commands.js';
import { secretsRotate } from './secrets.commands.js';
import { tenantCreate, tenantList, tenantUpdate } from './tenant.commands.js';
import { webhookCreate, webhookList } from './webhook.commands.js';

/** In the order the usage lists them. */
export const COMMANDS: readonly Command[] = [
  tenantCreate,
  tenantUpdate,
  tenantList,
  apikeyCreate,
  apikeyRevoke,
  apikeyList,
  authorizerImport,
  applicationList,
  apply,
  webhookCreate,
  webhookList,
  roomList,
  roomCreate,
  goodsList,
  secretsRotate,
];
