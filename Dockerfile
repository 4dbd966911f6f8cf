# The audithouse service image. It runs the TypeScript sources through tsx (bin/audithouse.js),
# so there is no build step; dev dependencies (tests, type-checker) are left out.
FROM node:20-bookworm-slim

ENV NODE_ENV=production \
    PORT=8080 \
    AUDIT_DATA_DIR=/data

WORKDIR /app

# Dependencies first: this layer is rebuilt only when the lock file changes.
# --ignore-scripts skips `prepare` (it builds the client library into dist/ with the TypeScript
# compiler, a dev dependency; serving does not need it); chdb's own install step is a no-op.
# `npm ci` refuses this lock file (chdb's optional per-platform engine packages, see .ci/run):
# then `npm install`, which honours the lock file.
COPY package.json package-lock.json ./
RUN (npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
     || npm install --omit=dev --ignore-scripts --no-audit --no-fund) \
    && npm cache clean --force

COPY bin ./bin
COPY src ./src
COPY clickhouse ./clickhouse
COPY tsconfig.json ./

# Archives, spool and (without AUDIT_JWT_SECRET) the dev secret live in /data: a volume.
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node

EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/readyz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

CMD ["node", "bin/audithouse.js", "serve"]
