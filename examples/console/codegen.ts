import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * Typed documents for the example, from the repository's schema.graphql (the same file the gateway
 * prints with `npm run schema`). `npm run codegen` writes gql/; a test regenerates it and fails when
 * the committed files differ or the example no longer typechecks.
 */
const config: CodegenConfig = {
  schema: new URL('../../schema.graphql', import.meta.url).pathname,
  documents: [new URL('./main.ts', import.meta.url).pathname],
  ignoreNoDocuments: false,
  // Imports with .js, as Node's ESM resolution (this repository's tsconfig) needs.
  importExtension: '.js',
  generates: {
    [new URL('./gql/', import.meta.url).pathname]: {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      // Documents as strings (TypedDocumentString): fetch and graphql-ws send them as they are, no graphql-js at run time.
      config: { documentMode: 'string', useTypeImports: true, enumsAsTypes: true, scalars: { DateTime: 'string' } },
    },
  },
};

export default config;
