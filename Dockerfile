# Herald's production image: built in one stage, run in another with only the production
# dependencies, the compiled dist/ and the migrations, as the unprivileged `node` user.
#   docker build -t herald .
#   docker run -p 4000:4000 -v herald-data:/data herald          # embedded database in /data
#   docker compose up                                             # with PostgreSQL and Redis
# Node 20 is the floor the README promises (package.json "engines").
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY . .
# --ignore-scripts: postinstall would generate before the sources are complete; build generates.
RUN npm ci --ignore-scripts --no-audit --no-fund && npm run build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HERALD_DATA_DIR=/data \
    PORT=4000
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/postinstall.mjs scripts/ensure-built.mjs ./scripts/
# scripts/postinstall.mjs skips generation here: the generators are dev dependencies.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# dist/db/migrate.js reads them at the same relative path as in the repository.
COPY prisma/migrations ./prisma/migrations
RUN mkdir -p /data && chown node:node /data
VOLUME /data
USER node
EXPOSE 4000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 4000) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node itself, not npm: signals reach Herald (graceful shutdown) and no wrapper holds memory.
CMD ["node", "--import", "./dist/telemetry/preload.js", "dist/main.js"]
