# syntax=docker/dockerfile:1
# wxlive-gateway: one image for every role (ROLE=api|worker|all), the migrations and the wxlive CLI.

# ---- build: compile TypeScript with the dev dependencies ----
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# npm ci's postinstall applies patches/ (patch-package): the postgres-js fix for connections lost mid-transaction.
COPY patches ./patches
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies and the compiled output only ----
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
COPY patches ./patches
# npm keeps the optional peers of production packages when they are devDependencies here (the lock
# marks them devOptional): valibot's typescript and drizzle-orm's PGlite, neither used at run time.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force \
  && rm -rf node_modules/typescript node_modules/@typescript node_modules/@electric-sql
# dist/graphiql-vendor holds GraphiQL's and React's browser files (npm run build copies them; both are devDependencies).
COPY --from=build /app/dist ./dist
# Read at run time from src/ (tsc does not copy non-TS files into dist): SQL migrations and the GraphiQL page.
COPY src/db/migrations ./src/db/migrations
COPY src/http/static ./src/http/static
# `wxlive` on the PATH: docker compose run --rm api wxlive tenant list
RUN chmod +x dist/src/cli/main.js && ln -s /app/dist/src/cli/main.js /usr/local/bin/wxlive

# The official image's unprivileged user; nothing under /app is writable by it.
USER node
EXPOSE 4000
# No curl in the slim image; Node 20 has fetch. A worker answers on METRICS_PORT, the API roles on PORT.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "const p = process.env.ROLE === 'worker' ? process.env.METRICS_PORT || 9464 : process.env.PORT || 4000; fetch('http://127.0.0.1:' + p + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/src/main.js"]
