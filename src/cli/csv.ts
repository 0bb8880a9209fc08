import { CliError } from './cli-errors.js';

/**
 * RFC 4180 records: quoted fields may hold commas, quotes ("") and line breaks; CRLF or LF
 * line ends; a UTF-8 byte-order mark (spreadsheet exports) is ignored.
 */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      record.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      record.push(field);
      records.push(record);
      record = [];
      field = '';
    } else field += c;
  }
  if (quoted) throw new CliError('INVALID_CSV', 'the file ends inside a quoted field (an unmatched ")');
  if (field !== '' || record.length > 0) {
    record.push(field);
    records.push(record);
  }
  return records;
}

export interface MerchantRow {
  /** The record's line in the file, the header being line 1 (unless a quoted field spans lines). */
  line: number;
  appId: string;
  refreshToken: string | undefined;
}

/** `app_id`, `appId`, `App ID` all name the same column. */
const normalise = (name: string) => name.toLowerCase().replace(/[^a-z0-9]/g, '');

/** Merchant rows from a CSV with a header naming `app_id` (and optionally `refresh_token`). */
export function merchantsFromCsv(text: string): MerchantRow[] {
  const [header, ...records] = parseCsv(text);
  if (!header) throw new CliError('INVALID_CSV', 'the file is empty; expected a header with an app_id column');
  const names = header.map(normalise);
  const appIdCol = names.indexOf('appid');
  if (appIdCol < 0) {
    throw new CliError('INVALID_CSV', `the header has no app_id (or appId) column; found: ${header.map((h) => JSON.stringify(h)).join(', ')}`);
  }
  const tokenCol = names.indexOf('refreshtoken');
  const rows: MerchantRow[] = [];
  records.forEach((record, index) => {
    // Blank lines (a trailing newline, spacing in hand-written files) are not merchants.
    if (record.every((cell) => cell.trim() === '')) return;
    const token = tokenCol < 0 ? '' : (record[tokenCol] ?? '').trim();
    rows.push({ line: index + 2, appId: (record[appIdCol] ?? '').trim(), refreshToken: token === '' ? undefined : token });
  });
  return rows;
}
