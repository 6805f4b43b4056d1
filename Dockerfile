# tsd image: one image for the three entry points (services/main.ts, services/api/server.ts,
# services/jobs/worker-process.ts); the command picks one, the default is the API.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
# The registry's artifact is compiled here, offline: Hardhat uses the pinned `solc` npm package;
# the verify page and the one-file verifier are bundled (esbuild) into dist/. Then the dev
# dependencies (Hardhat, solc, esbuild, jest...) are dropped: nothing at run time needs them.
RUN npm run build:contracts && npm run build:verifier && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
COPY --from=build /app /app
# DATA_DIR (key files, deployment.json, a local chain's state) must be writable by the
# non-root user; a new named volume mounted here takes this directory's owner.
RUN mkdir -p /data && chown node:node /data
ENV HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/data \
    NPM_CONFIG_UPDATE_NOTIFIER=false
USER node
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# `node --import tsx` rather than `npx tsx`: the process that receives SIGTERM is the service
# itself (npx does not pass the signal on, so the graceful shutdown would never run).
CMD ["node", "--import", "tsx", "services/api/server.ts"]
