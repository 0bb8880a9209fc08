/**
 * `npm run build`'s last step: copies GraphiQL's and React's browser files into dist/graphiql-vendor,
 * where the compiled GraphiQL route reads them, so `graphiql`, `react` and `react-dom` stay
 * devDependencies and out of the production install.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { VENDOR_DIR, VENDOR_FILES } from './graphiql.js';

const require = createRequire(import.meta.url);
mkdirSync(VENDOR_DIR, { recursive: true });
for (const [name, [pkg, file]] of Object.entries(VENDOR_FILES)) {
  copyFileSync(join(dirname(require.resolve(`${pkg}/package.json`)), file), join(VENDOR_DIR, name));
}
console.log(`copied ${Object.keys(VENDOR_FILES).length} GraphiQL files into ${VENDOR_DIR}`);
