# The Sluice image the Helm chart runs: `sluice start --roles ...` and `sluice migrate`.
FROM node:20-bookworm-slim AS build
WORKDIR /app
# isolated-vm builds from source.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/migrations ./migrations
COPY --from=build /app/bin ./bin
USER 10001
EXPOSE 8080
ENTRYPOINT ["bin/sluice"]
CMD ["start"]
