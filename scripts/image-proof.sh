#!/usr/bin/env bash
# Image proof (issues 5 and 18): build function images from the Dockerfile with buildah
# (each from its function's bundle, docs/images.md), run them, and check from outside what
# Knative relies on.
#
# Each image: what it holds (its function's bundle as dist/bin/serve.js, the commands, and
#   in node_modules only the native bcrypt addon: no PGlite, no dev dependency, no other
#   function's code) and its size, and above the Node base; its cold start, container
#   start to the first 200 on /readyz, median of IMAGE_PROOF_COLD_RUNS (5) starts.
#
# generate-password (database and secrets):
#   - the image's configuration: user 10001:10001, FUNCTION_TARGET, its CMD (which is run);
#   - it reads its secrets from the directory mounted at SECRETS_DIR: without the
#     encryption-key file it refuses to start, naming that path; the migration, run in
#     the same image, creates the tables as the database user named by the secret file;
#   - it listens on the PORT it is given (not 8080): /healthz 200, /readyz 200, and a
#     POST to / creates an account (201, stored in the database);
#   - the listening process runs as uid/gid 10001 with no capability, in the image;
#   - SIGTERM: it drains and exits 0;
#   - the operator command is in the image: `node dist/bin/account.js show` reads that account;
#   - it writes nothing outside /tmp: the container's file system is listed before and
#     after, so a read-only root file system (readOnlyRootFilesystem) is fine.
# portal (the same Dockerfile, FUNCTION=portal): starts with no database and no secret,
#   serves its page on PORT as uid 10001, and is not generate-password (POST / is no 201);
#   exits 0 on SIGTERM and writes nothing outside /tmp.
#
# No public registry is reachable here, so the Node base image is made locally: Debian
# minbase (debootstrap, from this machine's Debian mirror) plus this machine's node and
# npm. It is cached in its own buildah store under $IMAGE_PROOF_CACHE, keyed by the node,
# npm and Debian versions, and so are the dependency stages, keyed by the lock file
# (keep_dependency_stages), so a second run only builds the function images.
#
# Needs: root, buildah, debootstrap, jq, curl, ss, psql, and the PostgreSQL server at
# 127.0.0.1:5432 trusting local TCP connections (as in CI). A scratch role and database
# are created and dropped. Usage: bash scripts/image-proof.sh
# Settings: IMAGE_PROOF_PORT (18080), IMAGE_PROOF_CACHE (/var/cache/cofrap-image-proof),
# IMAGE_PROOF_STORAGE_DRIVER (overlay; vfs where overlay is not available: works, about
# 6 minutes and 5 GB while it runs),
# IMAGE_PROOF_COLD_RUNS (5) cold starts measured per image,
# IMAGE_PROOF_KEEP_LOGS=1 keeps the build and server logs in /tmp/cofrap-image-proof.*.
set -Eeuo pipefail
# A command that fails unexpectedly (set -e) says which, instead of a silent exit.
trap 'echo "image proof: FAILED: \"$BASH_COMMAND\" exited with status $? (line $LINENO)" >&2' ERR
cd "$(dirname "$0")/.."

readonly PORT=${IMAGE_PROOF_PORT:-18080}
readonly CACHE=${IMAGE_PROOF_CACHE:-/var/cache/cofrap-image-proof}
readonly STORAGE_DRIVER=${IMAGE_PROOF_STORAGE_DRIVER:-overlay}
readonly STORAGE="$CACHE/storage-${STORAGE_DRIVER}"        # our own buildah store, not the machine's
readonly RUNROOT="/run/cofrap-image-proof-${STORAGE_DRIVER}"
readonly PG_HOST=127.0.0.1 PG_PORT=5432 PG_ADMIN=postgres
readonly RUN_ID="$$"
readonly SCRATCH="cofrap_image_proof_${RUN_ID}" # the scratch role and database
readonly BASE_ROOTFS="$CACHE/rootfs.${RUN_ID}"  # debootstrap's work, gone once committed
readonly COLD_RUNS=${IMAGE_PROOF_COLD_RUNS:-5}
readonly BASE_RECIPE=1                          # part of the base's cache key: bump when make_base changes
readonly FUNCTIONS=(generate-password portal)
# Where the secrets live on Knative. /var/run is a symlink to /run in Debian, and
# buildah's chroot isolation resolves a mount destination's symlinks on the host (it
# would create /run/secrets/cofrap on the host), so the volume is mounted at the
# resolved path and the function reads it through the symlink, as it would on Knative.
readonly SECRETS_DIR=/var/run/secrets/cofrap
readonly SECRETS_MOUNT=/run/secrets/cofrap

# crun (buildah's OCI runtime) refuses this machine's hybrid cgroup v1/v2 layout, so
# every RUN and run uses chroot isolation: its own mount namespace, the host's network
# and PID namespaces, the uid switch and the capability drop.
export BUILDAH_ISOLATION=chroot
buildah() { command buildah --root "$STORAGE" --runroot "$RUNROOT" --storage-driver "$STORAGE_DRIVER" "$@"; }
image_of() { echo "localhost/cofrap/$1:image-proof-${RUN_ID}"; }
container_of() { echo "cofrap-image-proof-${RUN_ID}-$1"; }

started=$SECONDS
work=""        # scratch folder: secrets, logs, file listings
server_job=""  # pid of the background `buildah run` of a server
node_pid=""    # pid of that server's node process (as seen from the host)
db_made=false

say() { echo "image proof: $* ($((SECONDS - started))s)"; }
die() { echo "image proof: FAILED: $*" >&2; exit 1; }
psql_admin() { psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_ADMIN" -v ON_ERROR_STOP=1 -qAtX "$@"; }

# Everything made for this run goes, whatever happened; the cached base image stays.
cleanup() {
  local status=$? fn
  set +e
  trap - ERR
  stop_server_now
  for fn in "${FUNCTIONS[@]}"; do
    buildah rm "$(container_of "$fn")" >/dev/null 2>&1
    buildah rmi "$(image_of "$fn")" >/dev/null 2>&1
  done
  buildah rmi --prune >/dev/null 2>&1 # the build stages' layers, now untagged
  if $db_made; then
    psql_admin -d postgres -c "DROP DATABASE IF EXISTS ${SCRATCH} WITH (FORCE)" -c "DROP ROLE IF EXISTS ${SCRATCH}" >/dev/null 2>&1 \
      || echo "image proof: could not drop the scratch database and role ${SCRATCH}" >&2
  fi
  [ -n "$work" ] && [ -z "${IMAGE_PROOF_KEEP_LOGS:-}" ] && rm -rf "$work"
  rm -rf "$BASE_ROOTFS"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stop_server_now() {
  [ -n "$server_job" ] && kill -0 "$server_job" 2>/dev/null || return 0
  [ -n "$node_pid" ] && kill -KILL "$node_pid" 2>/dev/null
  kill -TERM "$server_job" 2>/dev/null
  wait "$server_job" 2>/dev/null
  server_job=""
}

require_tools() {
  local tool missing=()
  for tool in buildah debootstrap jq curl ss psql pg_isready flock node npm; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  [ ${#missing[@]} -eq 0 ] || die "missing tools: ${missing[*]} (apt-get install buildah debootstrap jq curl iproute2 postgresql-client)"
  [ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, buildah's chroot isolation)"
  pg_isready -h "$PG_HOST" -p "$PG_PORT" -q || die "PostgreSQL does not answer on ${PG_HOST}:${PG_PORT}"
  port_is_free || die "port ${PORT} is already in use (set IMAGE_PROOF_PORT)"
}

port_is_free() { [ -z "$(ss -Htln "sport = :${PORT}")" ]; }

# The Debian mirror this machine installs from (deb822 .sources or a classic sources.list).
debian_mirror() {
  local uri
  uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }')
  [ -n "$uri" ] || uri=$(cat /etc/apt/sources.list 2>/dev/null | awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }')
  echo "${uri:-http://deb.debian.org/debian}"
}

# The Node base: Debian minbase + this machine's node and npm. npm gets a global npmrc
# naming the CA bundle, which the build mounts from the host (the only way out goes
# through a TLS-inspecting proxy whose CA is in the host's bundle). The host's user
# npmrc is not copied.
make_base() {
  local tag=$1 suite mirror rootfs=$BASE_ROOTFS node_bin npm_dir chroot_bin ctr mnt
  suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
  mirror=$(debian_mirror)
  node_bin=$(readlink -f "$(command -v node)")
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  chroot_bin=$(command -v chroot)
  say "making the Node base $tag: debootstrap --variant=minbase $suite from $mirror"
  rm -rf "$rootfs"
  debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  mkdir -p "$rootfs/usr/local/bin" "$rootfs/usr/local/lib/node_modules" "$rootfs/usr/local/etc"
  cp "$node_bin" "$rootfs/usr/local/bin/node"
  cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  printf '%s\n' 'cafile=/etc/ssl/certs/ca-certificates.crt' 'update-notifier=false' >"$rootfs/usr/local/etc/npmrc"
  # node's shared libraries (libstdc++, libgcc_s, libc) must resolve inside the base.
  env -i PATH=/usr/local/bin:/usr/bin:/bin "$chroot_bin" "$rootfs" node -e 'process.exit(0)' \
    || die "the host's node does not run in the debootstrap base (a missing shared library?)"
  env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root "$chroot_bin" "$rootfs" npm --version >/dev/null \
    || die "the host's npm does not run in the debootstrap base"

  ctr=$(buildah from scratch)
  mnt=$(buildah mount "$ctr")
  cp -a "$rootfs/." "$mnt/"
  buildah umount "$ctr" >/dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd node \
    --label org.opencontainers.image.description="Debian $suite minbase + node $(node --version) of the build machine (image proof)" "$ctr"
  buildah commit -q --rm "$ctr" "$tag" >/dev/null
  rm -rf "$rootfs"
}

# Removes the images tagged in the repository of the image `$1` (name:tag) under another
# tag: what an earlier run kept for another key. `$2` names them in what it says.
remove_other_tags() {
  local keep=$1 what=$2 other
  for other in $(buildah images --format '{{.Name}}:{{.Tag}}' | grep -F "${keep%:*}:" | grep -vxF "$keep" || true); do
    buildah rmi "$other" >/dev/null && say "removed the stale $what $other"
  done
}

ensure_base() {
  local tag
  tag="localhost/cofrap-node-base:node$(node --version | tr -d v)-npm$(npm --version 2>/dev/null)-$(. /etc/os-release && echo "$VERSION_CODENAME")-r${BASE_RECIPE}"
  if buildah inspect --type image "$tag" >/dev/null 2>&1; then
    say "Node base $tag is cached"
  else
    make_base "$tag"
    say "Node base $tag made"
    # Bases of other node, npm or Debian versions are not used again.
    remove_other_tags "$tag" "base"
  fi
  BASE=$tag
}

# The dependency stages, deps (npm ci) and addon (npm prune to the bcrypt addon), read
# only package.json and package-lock.json: they are built with --layers and kept tagged
# (localhost/cofrap-stage-deps and -addon), as a CI's layer cache keeps them, so that
# another run on the same lock file and base reuses them instead of installing 433
# packages again (24 s of the proof's 88 here). What changes with the code (the build
# stage, the bundle, the runtime image) is built every run. Tags of another lock file or
# base go.
keep_dependency_stages() {
  local key stage tag
  key=$(cat package.json package-lock.json Dockerfile <(echo "$BASE") | sha256sum | cut -c1-16)
  for stage in deps addon; do
    tag="localhost/cofrap-stage-${stage}:${key}"
    if buildah inspect --type image "$tag" >/dev/null 2>&1; then
      say "the $stage stage of this lock file is kept from an earlier run ($tag)"
    else
      say "building the $stage stage ($tag)"
    fi
    buildah bud --pull=never --isolation chroot --layers \
      --volume /etc/ssl/certs:/etc/ssl/certs:ro \
      --build-arg NODE_BASE="$BASE" --target "$stage" \
      -f Dockerfile -t "$tag" . >"$work/build-stage-$stage.log" 2>&1 \
      || { tail -n 40 "$work/build-stage-$stage.log" >&2; die "buildah bud --target $stage failed"; }
    remove_other_tags "$tag" "$stage stage"
  done
}

# --layers, as podman build does by default: the images reuse the kept dependency stages,
# and the portal image the build stage of generate-password; it must still get its own
# FUNCTION_TARGET (see the Dockerfile's runtime stage). Cleanup prunes the untagged layers.
build_image() {
  local fn=$1
  say "building $(image_of "$fn") (buildah bud, FUNCTION=$fn, NODE_BASE=$BASE)"
  buildah bud --pull=never --isolation chroot --layers \
    --volume /etc/ssl/certs:/etc/ssl/certs:ro \
    --build-arg NODE_BASE="$BASE" --build-arg FUNCTION="$fn" \
    -f Dockerfile -t "$(image_of "$fn")" . >"$work/build-$fn.log" 2>&1 \
    || { tail -n 40 "$work/build-$fn.log" >&2; die "buildah bud of $fn failed"; }
  buildah from --pull=never --name "$(container_of "$fn")" "$(image_of "$fn")" >/dev/null
}

# The image's /app as the host sees it (the container's mounted root file system).
app_dir_of() { echo "$(buildah mount "$(container_of "$1")")/app"; }

# Bytes of a root file system, as unpacked (du --apparent-size, hard links once).
rootfs_bytes() { du -sb --apparent-size "$1" | cut -f1; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

# What the image holds of ours: its bundle, the commands, and the bcrypt addon only.
check_image_contents() {
  local fn=$1 app modules
  app=$(app_dir_of "$fn")
  for file in serve.js serve.cjs serve.cjs.cache; do
    [ -f "$app/dist/bin/$file" ] || die "$fn: no dist/bin/$file in the image"
  done
  [ ! -e "$app/dist/functions" ] && [ ! -e "$app/dist/lib" ] || die "$fn: the image holds the compiled tree, not the bundle"
  for command in migrate account rotate-encryption-key bcrypt-worker worker; do
    [ -f "$app/dist/bin/$command.js" ] || die "$fn: dist/bin/$command.js is missing from the image"
  done
  modules=$(cd "$app/node_modules" && ls | tr '\n' ' ' | sed 's/ $//')
  [ "$modules" = "bcrypt node-gyp-build" ] || die "$fn: node_modules holds \"$modules\", expected only bcrypt node-gyp-build"
  ! grep -q -e '@electric-sql/pglite' -e 'PGlite is a' "$app/dist/bin/serve.cjs" || die "$fn: the bundle carries PGlite"
  say "$fn image: dist/bin/serve.cjs $(mib "$(stat -c %s "$app/dist/bin/serve.cjs")") (its bundle, run by serve.js), its code cache $(mib "$(stat -c %s "$app/dist/bin/serve.cjs.cache")"), node_modules: $modules; no PGlite, no other function"
}

# The image's size unpacked, and above the Node base it was built on.
report_size() {
  local fn=$1 base_ctr base_bytes image_bytes
  base_ctr=$(buildah from --pull=never "$BASE")
  base_bytes=$(rootfs_bytes "$(buildah mount "$base_ctr")")
  buildah rm "$base_ctr" >/dev/null
  image_bytes=$(rootfs_bytes "$(buildah mount "$(container_of "$fn")")")
  say "$fn image size: $(mib "$image_bytes"), $(mib $((image_bytes - base_bytes))) above the Node base ($(mib "$base_bytes"); goal: at most 60 MB above it)"
  SIZES+=("$fn $(mib "$image_bytes") ($(mib $((image_bytes - base_bytes))) above the base)")
}

# Container start (buildah run of the image's CMD) to the first 200 on /readyz, COLD_RUNS
# times; prints the median and every run.
measure_cold_start() {
  local fn=$1 secrets=$2 run t0 ms status times=() empty=()
  for run in $(seq 1 "$COLD_RUNS"); do
    port_is_free || die "port ${PORT} is already in use (set IMAGE_PROOF_PORT)"
    t0=$(date +%s%N)
    run_in_image "$fn" "$secrets" "${CMD[@]}" >"$work/server-$fn.log" 2>&1 &
    server_job=$!
    while :; do
      kill -0 "$server_job" 2>/dev/null || { cat "$work/server-$fn.log" >&2; die "$fn exited before answering /readyz"; }
      status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:${PORT}/readyz" || true)
      [ "$status" = 200 ] && break
      [ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 20000 ] || die "$fn: no 200 from /readyz within 20 s of its start"
      sleep 0.005
    done
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    times+=("$ms")
    node_pid=$(ss -Htlnp "sport = :${PORT}" | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2 || true)
    stop_with_sigterm "$fn" >/dev/null
    # A cache made by another Node than the image's, or for other V8 flags, is refused, and
    # every start compiles it all.
    ! grep -q '"code_cache_rejected"' "$work/server-$fn.log" || die "$fn: its code cache was rejected (built with another Node or other V8 flags?)"
    # The container alone, without our process: buildah run of `true` in the same image.
    t0=$(date +%s%N)
    run_in_image "$fn" "$secrets" true
    empty+=("$(( ($(date +%s%N) - t0) / 1000000 ))")
  done
  local sorted median overhead
  sorted=$(printf '%s\n' "${times[@]}" | sort -n | tr '\n' ' ')
  median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (COLD_RUNS + 1) / 2 ))p")
  overhead=$(printf '%s\n' "${empty[@]}" | sort -n | sed -n "$(( (COLD_RUNS + 1) / 2 ))p")
  say "$fn cold start, container start to the first /readyz 200: median ${median} ms of ${COLD_RUNS} (${sorted% }ms); a container running \`true\`: median ${overhead} ms (buildah's own start and stop)"
  COLD+=("$fn ${median} ms (container alone ${overhead} ms)")
}

# Knative's readOnlyRootFilesystem: the image's /app is mounted read-only (run_in_image).
check_read_only_app() {
  local fn=$1
  if run_in_image "$fn" "" sh -c 'echo x >/app/written-by-image-proof' 2>/dev/null; then die "$fn: /app is writable in the container"; fi
  say "$fn: /app is read-only in the container (a write is refused)"
}

# What the Dockerfile promises, read from the image's configuration; sets CMD.
check_image_config() {
  local fn=$1 config
  config=$(buildah inspect --type image "$(image_of "$fn")" | jq '.OCIv1.config')
  [ "$(jq -r '.User' <<<"$config")" = "10001:10001" ] || die "$fn: image user is $(jq -r '.User' <<<"$config"), expected 10001:10001"
  jq -e --arg f "FUNCTION_TARGET=$fn" '.Env | index($f) != null' <<<"$config" >/dev/null || die "$fn: image does not set FUNCTION_TARGET=$fn"
  mapfile -t CMD < <(jq -r '.Cmd[]' <<<"$config")
  [ ${#CMD[@]} -gt 0 ] || die "$fn: image has no CMD"
  say "$fn image: user 10001:10001, FUNCTION_TARGET=$fn, CMD ${CMD[*]}"
}

# A role named by the secret file, owning a scratch database; PostgreSQL trusts local TCP.
make_scratch_database() {
  psql_admin -d postgres -c "CREATE ROLE ${SCRATCH} LOGIN" -c "CREATE DATABASE ${SCRATCH} OWNER ${SCRATCH}" >/dev/null
  db_made=true
}

# The three files of the Knative projected volume, readable by uid 10001 as there.
make_secrets() {
  local dir=$1 with_key=$2
  mkdir -p "$dir"
  printf '%s\n' "$SCRATCH" >"$dir/db-credentials-username"
  printf '%s\n' "unused-with-trust-auth" >"$dir/db-credentials-password"
  if $with_key; then printf '%s\n' "$(head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_')" >"$dir/encryption-key"; fi
  chmod 0755 "$dir"
  chmod 0444 "$dir"/*
}

# buildah run with what the Knative Service gives the container: its settings, an empty
# /tmp, no capability, the image's /app (all it holds of ours) mounted read-only over
# itself (readOnlyRootFilesystem; the rest of the root is checked unchanged, see below), and for a function with a database the secrets, read-only. Host
# network, so that it reaches PostgreSQL on 127.0.0.1 and we reach its PORT.
# Usage: run_in_image FUNCTION SECRETS_FOLDER|"" COMMAND...
run_in_image() {
  local fn=$1 secrets=$2; shift 2
  local options=(--isolation chroot --network host --cap-drop all --mount type=tmpfs,destination=/tmp
    --volume "$(app_dir_of "$fn"):/app:ro" -e PORT="$PORT" -e K_SERVICE="$fn")
  if [ -n "$secrets" ]; then
    options+=(--volume "$secrets:$SECRETS_MOUNT:ro" -e SECRETS_DIR="$SECRETS_DIR"
      -e POSTGRES_HOST="$PG_HOST" -e POSTGRES_PORT="$PG_PORT" -e POSTGRES_DB="$SCRATCH"
      -e BCRYPT_THREADS=1 -e PG_POOL_MAX=3 -e LOG_LEVEL=info)
  fi
  buildah run "${options[@]}" "$(container_of "$fn")" -- "$@"
}

# Every entry of the container's root file system with its type, mode and owner, and for
# files their size and modification time. A directory's time is left out: buildah itself
# renews /run/.containerenv on each run, and a file made or removed in a directory shows
# as an entry anyway. /tmp is a tmpfs and the secrets a bind mount: neither is listed.
list_rootfs() {
  local mnt
  mnt=$(buildah mount "$(container_of "$1")")
  find "$mnt" -xdev \( -type d -printf '%P\t%y\t%m\t%U:%G\n' \) -o -printf '%P\t%y\t%m\t%U:%G\t%s\t%T@\n' | LC_ALL=C sort
}

# The reference listing is taken after a first run, which creates the mount points.
snapshot_rootfs() {
  local fn=$1 secrets=$2
  run_in_image "$fn" "$secrets" true
  list_rootfs "$fn" >"$work/rootfs-$fn.before"
}

check_rootfs_unchanged() {
  local fn=$1
  list_rootfs "$fn" >"$work/rootfs-$fn.after"
  if ! diff -u "$work/rootfs-$fn.before" "$work/rootfs-$fn.after" >"$work/rootfs-$fn.diff"; then
    head -n 40 "$work/rootfs-$fn.diff" >&2
    die "$fn wrote outside /tmp"
  fi
  say "$fn wrote nothing outside /tmp"
}

# Usage: http_status URL [BODY_FILE [curl options...]]; prints the status, 000 when no answer.
http_status() { curl -s -o "${2:-/dev/null}" -w '%{http_code}' --max-time 10 "${@:3}" "$1" || true; }

# Starts the image's CMD in the background and waits for /healthz on PORT.
start_server() {
  local fn=$1 secrets=$2 i
  port_is_free || die "port ${PORT} is already in use (set IMAGE_PROOF_PORT)"
  run_in_image "$fn" "$secrets" "${CMD[@]}" >"$work/server-$fn.log" 2>&1 &
  server_job=$!
  for i in $(seq 1 100); do
    kill -0 "$server_job" 2>/dev/null || { cat "$work/server-$fn.log" >&2; die "$fn exited before answering /healthz"; }
    if [ "$(http_status "http://127.0.0.1:${PORT}/healthz")" = 200 ]; then
      say "$fn: /healthz 200 on port ${PORT}"
      return 0
    fi
    sleep 0.2
  done
  cat "$work/server-$fn.log" >&2
  die "$fn: no 200 from /healthz on port ${PORT} within 20 s"
}

# The process listening on PORT, seen from the host: the image's node, uid/gid 10001.
check_process() {
  local fn=$1 uid gid cap_eff root target
  node_pid=$(ss -Htlnp "sport = :${PORT}" | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2 || true)
  [ -n "$node_pid" ] || die "$fn: no process listens on port ${PORT}"
  uid=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$node_pid/status")
  gid=$(awk '/^Gid:/ { print $2, $3, $4, $5 }' "/proc/$node_pid/status")
  cap_eff=$(awk '/^CapEff:/ { print $2 }' "/proc/$node_pid/status")
  root=$(readlink "/proc/$node_pid/root")
  target=$(tr '\0' '\n' <"/proc/$node_pid/environ" | sed -n 's/^FUNCTION_TARGET=//p')
  [ "$uid" = "10001 10001 10001 10001" ] || die "$fn runs with uids $uid, expected 10001"
  [ "$gid" = "10001 10001 10001 10001" ] || die "$fn runs with gids $gid, expected 10001"
  [ "$cap_eff" = "0000000000000000" ] || die "$fn has capabilities $cap_eff"
  [ "$root" != "/" ] || die "$fn runs in the host's root file system, not the image's"
  [ "$target" = "$fn" ] || die "FUNCTION_TARGET of the server is \"$target\", expected $fn"
  grep -q "\"event\":\"listening\",.*\"function\":\"${fn}\",\"port\":${PORT}" "$work/server-$fn.log" \
    || { cat "$work/server-$fn.log" >&2; die "$fn did not log that it listens on port $PORT"; }
  say "$fn: pid $node_pid ($(tr '\0' ' ' <"/proc/$node_pid/cmdline" | sed 's/ $//')) listens on ${PORT}, uid/gid 10001, no capability"
}

# What the kubelet does to stop a pod: SIGTERM to the container's process.
stop_with_sigterm() {
  local fn=$1 i status
  kill -TERM "$node_pid"
  for i in $(seq 1 150); do kill -0 "$server_job" 2>/dev/null || break; sleep 0.2; done
  kill -0 "$server_job" 2>/dev/null && die "$fn still runs 30 s after SIGTERM"
  status=0; wait "$server_job" || status=$?
  server_job=""; node_pid=""
  [ "$status" -eq 0 ] || { cat "$work/server-$fn.log" >&2; die "after SIGTERM $fn exited with status $status, expected 0"; }
  grep -q '"event":"stopped"' "$work/server-$fn.log" || die "$fn did not log its stop"
  port_is_free || die "port ${PORT} is still open after $fn stopped"
  say "$fn: SIGTERM, drained, exit status 0"
}

prove_generate_password() {
  local fn=generate-password status owners
  check_image_config "$fn"
  make_scratch_database
  make_secrets "$work/secrets" true
  make_secrets "$work/secrets-without-key" false
  snapshot_rootfs "$fn" "$work/secrets"

  # Without the encryption-key file the function must refuse to start, naming the file.
  if run_in_image "$fn" "$work/secrets-without-key" "${CMD[@]}" >"$work/no-key.log" 2>&1; then
    die "$fn started without the encryption-key file"
  fi
  grep -q "secret file ${SECRETS_DIR}/encryption-key is missing" "$work/no-key.log" \
    || { cat "$work/no-key.log" >&2; die "without the key, $fn did not name ${SECRETS_DIR}/encryption-key"; }
  say "$fn: without ${SECRETS_DIR}/encryption-key it refuses to start"

  run_in_image "$fn" "$work/secrets" node dist/bin/migrate.js >"$work/migrate.log" 2>&1 \
    || { cat "$work/migrate.log" >&2; die "the migration failed in the $fn image"; }
  owners=$(psql_admin -d "$SCRATCH" -c "SELECT string_agg(DISTINCT tableowner, ',') FROM pg_tables WHERE schemaname = 'public'")
  [ "$owners" = "$SCRATCH" ] || die "the tables are owned by \"$owners\", not by the secret's user $SCRATCH"
  say "$fn: migration in the image, as the database user of the secret file ($(tail -n 1 "$work/migrate.log"))"

  start_server "$fn" "$work/secrets"
  check_process "$fn"
  [ "$(http_status "http://127.0.0.1:${PORT}/readyz")" = 200 ] || die "$fn: /readyz did not answer 200"
  say "$fn: /readyz 200 (database reachable and migrated)"
  status=$(http_status "http://127.0.0.1:${PORT}/" "$work/created.json" -X POST -H 'Content-Type: application/json' -d '{"username":"image.proof"}')
  [ "$status" = 201 ] || { cat "$work/created.json" >&2; die "$fn: POST / answered $status, expected 201"; }
  jq -e '.username == "image.proof" and (.qr_code_base64 | length) > 100' "$work/created.json" >/dev/null || die "$fn: POST / answered an unexpected body"
  [ "$(psql_admin -d "$SCRATCH" -c "SELECT count(*) FROM users WHERE username = 'image.proof'")" = 1 ] || die "$fn: the account is not in the database"
  say "$fn: POST / {\"username\":\"image.proof\"} 201, account stored"
  stop_with_sigterm "$fn"

  # The operator command is in every image (docs/operations.md, "Operator command"): it reads that account.
  run_in_image "$fn" "$work/secrets" node dist/bin/account.js show image.proof >"$work/account.log" 2>&1 \
    || { cat "$work/account.log" >&2; die "node dist/bin/account.js show image.proof failed in the $fn image"; }
  grep -qx 'status: pending' "$work/account.log" || { cat "$work/account.log" >&2; die "account show in the $fn image did not report status: pending"; }
  say "$fn: node dist/bin/account.js show image.proof in the image: status: pending"
  measure_cold_start "$fn" "$work/secrets"
  check_rootfs_unchanged "$fn"
}

prove_portal() {
  local fn=portal status
  check_image_config "$fn"
  snapshot_rootfs "$fn" ""
  start_server "$fn" ""
  check_process "$fn"
  status=$(http_status "http://127.0.0.1:${PORT}/" "$work/portal.html")
  [ "$status" = 200 ] && grep -qi '<html' "$work/portal.html" || die "portal: GET / answered $status, not its page"
  status=$(http_status "http://127.0.0.1:${PORT}/" /dev/null -X POST -H 'Content-Type: application/json' -d '{"username":"image.proof.portal"}')
  [ "$status" != 201 ] || die "portal: POST / answered 201, as if it were generate-password"
  say "portal: page served without database or secret; POST / is not generate-password ($status)"
  stop_with_sigterm "$fn"
  measure_cold_start "$fn" ""
  check_rootfs_unchanged "$fn"
}

main() {
  require_tools
  mkdir -p "$CACHE" "$RUNROOT"
  # One proof at a time on a machine: they share the cached base and the port.
  exec 9>"$CACHE/lock"
  flock -w 900 9 || die "another image proof has held $CACHE/lock for 15 minutes"
  work=$(mktemp -d /tmp/cofrap-image-proof.XXXXXX)

  ensure_base
  keep_dependency_stages
  build_image generate-password
  build_image portal
  say "built"
  SIZES=() COLD=()
  for fn in "${FUNCTIONS[@]}"; do
    check_image_contents "$fn"
    report_size "$fn"
    check_read_only_app "$fn"
  done
  prove_generate_password
  prove_portal
  printf 'image proof: %s\n' "sizes: ${SIZES[*]}" "cold starts (median, container start to /readyz 200): ${COLD[*]}"
  echo "image proof: ok ($((SECONDS - started))s)"
}

main "$@"
