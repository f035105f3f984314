# One image per function, all from this file:
#   docker build --build-arg FUNCTION=authenticate -t cofrap/authenticate .
# NODE_BASE is any Node.js 22 image with a shell (default: Debian bookworm slim); pass a
# locally made one with --build-arg NODE_BASE=<image>.
# An image holds its function's bundle (scripts/bundle.mjs, docs/images.md), not the
# source tree nor node_modules: node, one file of JavaScript per command, and the native
# bcrypt addon.
ARG NODE_BASE=node:22-bookworm-slim

# Dependencies, exactly as locked (dev dependencies too: the compiler and esbuild).
FROM ${NODE_BASE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

# Compile (the request and response types generated from openapi.yaml, tsc, the
# migrations, openapi.json, the request validators) and bundle: the same for every
# function, so the layers are shared between images.
FROM deps AS build
COPY . .
RUN npm run build

# The one package the bundles leave out: the native bcrypt addon (an optional dependency:
# where it did not install, the bundled bcryptjs does the work), with node-gyp-build, which
# loads its prebuilt binary for this platform; the other platforms' binaries, its C++
# sources and tests stay out.
FROM deps AS addon
RUN npm prune --omit=dev --no-audit --no-fund \
 && mkdir -p /addon/node_modules \
 && if [ -d node_modules/bcrypt ]; then \
      cp -a node_modules/bcrypt node_modules/node-gyp-build /addon/node_modules/ \
      && cd /addon/node_modules/bcrypt \
      && rm -rf src test examples binding.gyp Makefile Dockerfile Dockerfile-alpine build-all.sh ISSUE_TEMPLATE.md \
      && platform=$(node -p 'process.platform + "-" + process.arch') \
      && find prebuilds -mindepth 1 -maxdepth 1 ! -name "$platform" -exec rm -rf {} +; \
    fi

# What the image runs, laid out as before bundling so that every command keeps its path:
# dist/bin/serve.js is this function's loader, which runs its bundle serve.cjs with the
# code cache serve.cjs.cache (made by npm run build above, with this image's Node: a cache
# from another Node would be refused); the migration and operator commands, the bcrypt
# workers and the migrations sit beside it (they are found next to the bundle), and the
# portal's page for the portal.
FROM build AS bundle
ARG FUNCTION
RUN test -n "${FUNCTION}" && test -f "dist/bundle/${FUNCTION}.js" \
 || { echo "build argument FUNCTION must name a folder of functions/, got \"${FUNCTION}\"" >&2; exit 1; }
RUN mkdir -p /image/dist/bin \
 && cp "dist/bundle/${FUNCTION}.js" /image/dist/bin/serve.js \
 && cp "dist/bundle/${FUNCTION}.cjs" /image/dist/bin/serve.cjs \
 && cp "dist/bundle/${FUNCTION}.cjs.cache" /image/dist/bin/serve.cjs.cache \
 && cd dist/bundle \
 && cp migrate.js account.js account.cjs account.cjs.cache rotate-encryption-key.js bcrypt-worker.js worker.js /image/dist/bin/ \
 && cp -r migrations /image/dist/bin/ \
 && if [ "${FUNCTION}" = portal ]; then cp -r web /image/dist/bin/; fi \
 && printf '{ "type": "module" }\n' >/image/package.json

# What runs: node, the bundles and the addon, owned by root and read-only for the numeric
# non-root user. Nothing is written outside /tmp.
FROM ${NODE_BASE} AS runtime
ARG FUNCTION
# FUNCTION in a RUN before the ENV: buildah and podman build --layers (podman's default)
# key a RUN on the build arguments but not an ENV, and would otherwise give this image
# the FUNCTION_TARGET of a function built before it (containers/buildah#5501).
RUN test -n "${FUNCTION}"
ENV NODE_ENV=production \
    FUNCTION_TARGET=${FUNCTION}
WORKDIR /app
COPY --from=bundle /image/package.json ./package.json
COPY --from=addon /addon/node_modules ./node_modules
COPY --from=bundle /image/dist ./dist
USER 10001:10001
# Knative sets PORT (8080 unless told otherwise); the server listens on it.
EXPOSE 8080
# Exec form: node is PID 1 and receives SIGTERM itself, drains, and exits 0.
CMD ["node", "dist/bin/serve.js"]
