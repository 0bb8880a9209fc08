import { APPLICATION_STATUSES, type ApplicationStatus } from '../../db/tables.js';
import { systemContext } from '../../services/context.js';
import { encodeCursor, MAX_PAGE_SIZE } from '../../services/cursor.js';
import { EXIT } from '../cli-errors.js';
import { type Command, str } from '../command.js';
import { shortTime } from '../output.js';

const status = (raw: string): ApplicationStatus | undefined => APPLICATION_STATUSES.find((s) => s === raw.toUpperCase());

export const applicationList: Command = {
  name: 'application list',
  synopsis: '--tenant ID [--status S[,S...]] [--app-id A] [--first N] [--after CURSOR]',
  summary: 'List live applications, newest first (--after takes the endCursor that --json prints).',
  options: { tenant: str, status: str, 'app-id': str, first: str, after: str },
  async run({ args, out, runtime }) {
    const id = args.tenantId();
    const statuses = args.list('status', status, `statuses among ${APPLICATION_STATUSES.join(', ')}`);
    const appId = args.appId('app-id', false);
    const first = args.int('first', 1, MAX_PAGE_SIZE);
    const after = args.string('after');
    const rt = await runtime();
    await rt.tenant(id);
    const page = await rt.services.applications.list(systemContext(id), { first, after, filter: { appId, status: statuses } });
    const last = page.items.at(-1);
    const endCursor = last ? encodeCursor({ createdAt: new Date(last.createdAt), id: last.id }) : null;
    out.result({ applications: page.items, hasNextPage: page.hasNextPage, endCursor }, () => {
      if (page.items.length === 0) {
        out.line('No applications match.');
        return;
      }
      out.table(
        ['ID', 'APP ID', 'STATUS', 'ATTEMPTS', 'ERRCODE', 'ERRMSG', 'UPDATED'],
        page.items.map((a) => [
          a.id,
          a.appId,
          a.status,
          String(a.attempts),
          a.errcode === null ? '' : String(a.errcode),
          a.errmsg ?? '',
          shortTime(a.updatedAt),
        ]),
      );
      if (page.hasNextPage && endCursor) out.note(`more: --after ${endCursor}`);
    });
    return EXIT.OK;
  },
};
