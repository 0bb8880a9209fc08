import { type Authorizer, LIVE_PERMISSION_SET } from '../../services/authorizers.service.js';
import { systemContext } from '../../services/context.js';
import { EXIT } from '../cli-errors.js';
import { bool, type Command, str } from '../command.js';
import { shortTime } from '../output.js';

export function authorizerJson(a: Authorizer) {
  return { ...a, liveOpenedAt: a.liveOpenedAt?.toISOString() ?? null, createdAt: a.createdAt.toISOString(), updatedAt: a.updatedAt.toISOString() };
}

const permissionSet = (raw: string) => (/^\d{1,4}$/.test(raw) ? Number(raw) : undefined);

export const authorizerImport: Command = {
  name: 'authorizer import',
  synopsis: '--tenant ID --app-id A --refresh-token R [--permission-sets 1,52] [--live-open]',
  summary: 'Import a merchant that authorized the provider before the gateway existed (--live-open: its live is already open).',
  options: { tenant: str, 'app-id': str, 'refresh-token': str, 'permission-sets': str, 'live-open': bool },
  async run({ args, out, runtime }) {
    const id = args.tenantId();
    const appId = args.appId('app-id', true);
    const refreshToken = args.required('refresh-token');
    const permissionSets = args.list('permission-sets', permissionSet, 'permission set numbers such as 1,52');
    const rt = await runtime();
    await rt.tenant(id);
    const [result] = await rt.services.authorizers.import(systemContext(id), [{ appId, refreshToken, permissionSets, liveOpen: args.flag('live-open') }]);
    if (!result) throw new Error('import returned no result');
    const authorizer = result.authorizer;
    out.result({ authorizer: authorizer ? authorizerJson(authorizer) : null, userErrors: result.userErrors }, () => {
      for (const e of result.userErrors) out.note(`${e.code}: ${e.message}`);
      if (!authorizer) return;
      out.table(
        ['APP ID', 'STATUS', 'PERMISSION SETS', 'LIVE OPEN', 'UPDATED'],
        [[authorizer.appId, authorizer.status, authorizer.permissionSets.join(','), authorizer.liveOpen ? 'yes' : 'no', shortTime(authorizer.updatedAt)]],
      );
      if (!authorizer.permissionSets.includes(LIVE_PERMISSION_SET)) {
        out.note(`note: permission set ${LIVE_PERMISSION_SET} (live broadcast) is not granted; applying for this merchant will be refused.`);
      }
    });
    return result.userErrors.length === 0 ? EXIT.OK : EXIT.ERROR;
  },
};
