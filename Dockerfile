# One image per app: docker build --build-arg APP=gateway -t batchgate/gateway .
FROM node:20.20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
ARG APP
RUN node tools/build-app.mjs "$APP" && npm prune --omit=dev --no-audit --no-fund

FROM node:20.20-bookworm-slim
ARG APP
ENV NODE_ENV=production PROTO_DIR=/app/proto APP_ENTRY=/app/dist/apps/${APP}/src/main.js
WORKDIR /app
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/proto ./proto
COPY --from=build /src/dist/apps/${APP} ./dist
USER node
CMD ["sh", "-c", "exec node \"$APP_ENTRY\""]
