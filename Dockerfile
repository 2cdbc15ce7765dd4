# One image for every Heady service; the command picks the service:
#   docker run heady node services/gateway/dist/main.js
FROM node:22-bookworm-slim AS build
WORKDIR /app
RUN npm install -g pnpm@10
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml .npmrc turbo.json tsconfig.base.json ./
COPY libs libs
COPY services services
COPY proto proto
RUN pnpm install --frozen-lockfile
RUN pnpm exec turbo run build && pnpm prune --prod --ignore-scripts

FROM node:22-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app /app
USER node
EXPOSE 8080 9101 9102
CMD ["node", "services/gateway/dist/main.js"]
