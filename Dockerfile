# One image per function, all from this file:
#   docker build --build-arg FUNCTION=authenticate -t cofrap/authenticate .
# NODE_BASE is any Node.js 22 image with a shell (default: Debian bookworm slim); pass a
# locally made one with --build-arg NODE_BASE=<image>.
ARG NODE_BASE=node:22-bookworm-slim

# Dependencies, exactly as locked (dev dependencies too: the compiler).
FROM ${NODE_BASE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

# Compile (the request and response types generated from openapi.yaml, tsc, then the
# migrations, openapi.json and the request validators beside the code), then drop the dev
# dependencies. The same for every function, so the layers are shared between images.
FROM deps AS build
COPY . .
RUN npm run build && npm prune --omit=dev --no-audit --no-fund
ARG FUNCTION
RUN test -n "${FUNCTION}" && test -f "dist/functions/${FUNCTION}/index.js" \
 || { echo "build argument FUNCTION must name a folder of functions/, got \"${FUNCTION}\"" >&2; exit 1; }

# What runs: node, the production dependencies and dist/, owned by root and read-only
# for the numeric non-root user. Nothing is written outside /tmp.
FROM ${NODE_BASE} AS runtime
ARG FUNCTION
# FUNCTION in a RUN before the ENV: buildah and podman build --layers (podman's default)
# key a RUN on the build arguments but not an ENV, and would otherwise give this image
# the FUNCTION_TARGET of a function built before it (containers/buildah#5501).
RUN test -n "${FUNCTION}"
ENV NODE_ENV=production \
    FUNCTION_TARGET=${FUNCTION}
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER 10001:10001
# Knative sets PORT (8080 unless told otherwise); the server listens on it.
EXPOSE 8080
# Exec form: node is PID 1 and receives SIGTERM itself, drains, and exits 0.
CMD ["node", "dist/bin/serve.js"]
