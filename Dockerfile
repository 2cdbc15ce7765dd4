# One image for every Heady service; the command picks the service:
#   docker build -t heady .
#   docker run heady node services/gateway/dist/main.js     (every other service likewise)
#   docker run heady node libs/cli/dist/main.js db migrate   (the heady CLI)
# deploy/compose.yaml and deploy/k8s run the whole system from it. Each service runs from
# its own `pnpm deploy --prod` folder (its package, its built dist and only its production
# dependencies), as a non-root user; test/deploy/dockerfile.test.ts runs the same deploy
# command for every service and loads each from its folder.

# Only the package manifests, so the install layer is rebuilt only when they change.
FROM node:22-bookworm-slim AS manifests
WORKDIR /app
COPY . .
RUN find . -type f ! \( -name package.json -o -name pnpm-lock.yaml -o -name pnpm-workspace.yaml -o -name .npmrc \) -delete

FROM node:22-bookworm-slim AS build
ENV CI=true
RUN npm install -g pnpm@10
WORKDIR /app
COPY --from=manifests /app ./
RUN pnpm install --frozen-lockfile
COPY . .
RUN pnpm exec turbo run build
# one pruned folder per service and the CLI: its package with production dependencies only
# (from the store filled above); /out/<dir> becomes /app/<dir> in the runtime image
RUN for p in services/gateway services/conductor services/pipeline services/vector-memory services/workers \
      services/knowledge-vault services/billing services/device-sync libs/cli; do \
      pnpm --filter="./$p" deploy --prod --legacy --prefer-offline "/out/$p"; \
    done

FROM node:22-bookworm-slim
ENV NODE_ENV=production \
    HEADY_DATA_DIR=/var/lib/heady \
    HEADY_GATEWAY_HOST=0.0.0.0
WORKDIR /app
COPY --from=build /out ./
# keys, audit files and other local data; mount a volume here to share it between containers
RUN mkdir -p /var/lib/heady && chown node:node /var/lib/heady
USER node
EXPOSE 8080 9100 9101 9102 9103
CMD ["node", "services/gateway/dist/main.js"]
