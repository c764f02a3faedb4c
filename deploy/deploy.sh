#!/usr/bin/env bash
# Updates an ota-gate installation (a git clone) to the tip of the branch it
# deploys (origin/main unless OTA_DEPLOY_BRANCH names another), by fast-forward
# only, and returns it to the commit it ran before when the new version does not
# come up healthy. It says which branch it deploys before it does anything.
#
# Usage: deploy/deploy.sh            (as root, or as the owner of the installation)
#
# Settings (environment), with their defaults:
#   OTA_DEPLOY_BRANCH main                                the branch of origin deployed; the
#                                                         installation must be on it. A team that
#                                                         promotes through its own branch creates it
#                                                         (git push origin main:production) and sets it
#   OTA_INSTALL_DIR   /opt/ota-gate                       the clone to update
#   OTA_ENV_FILE      /etc/ota-gate/ota-gate.env          server settings: given to the migrate step only
#   OTA_SERVICE_USER  ota-gate                            migrations run as this user when run as root
#   OTA_INSTALL_CMD   npm ci                              installs and builds
#   OTA_MIGRATE_CMD   node dist/cli/main.js migrate       applies database migrations
#   OTA_RESTART_CMD   systemctl restart ota-gate          restarts the server
#   OTA_HEALTH_URL    http://127.0.0.1:8080/healthz       must answer 200 {"status":"ok"}; by default
#                                                         OTA_HOST/OTA_PORT from the env file
#   OTA_HEALTH_TRIES  30, OTA_HEALTH_INTERVAL 2 (seconds)  how long to wait for it
#   OTA_HEALTH_TIMEOUT 5 (seconds)                        the most one try may take, whole answer included
# Commands run with bash -c in the installation folder.
#
# Exit codes: 0 deployed (or already up to date); 1 refused or failed before
# anything changed; 3 the new version failed and the previous one is back;
# 4 the new version failed and so did the return to the previous one.
set -euo pipefail

readonly branch="${OTA_DEPLOY_BRANCH:-main}"
readonly remote=origin
install_dir="${OTA_INSTALL_DIR:-/opt/ota-gate}"
env_file="${OTA_ENV_FILE:-/etc/ota-gate/ota-gate.env}"
service_user="${OTA_SERVICE_USER:-ota-gate}"
install_cmd="${OTA_INSTALL_CMD:-npm ci}"
restart_cmd="${OTA_RESTART_CMD:-systemctl restart ota-gate}"
health_url="${OTA_HEALTH_URL:-}"
health_tries="${OTA_HEALTH_TRIES:-30}"
health_interval="${OTA_HEALTH_INTERVAL:-2}"
health_timeout="${OTA_HEALTH_TIMEOUT:-5}"
if [[ -n "${OTA_MIGRATE_CMD:-}" ]]; then
  migrate_cmd="$OTA_MIGRATE_CMD"
elif [[ $EUID -eq 0 ]] && id -u "$service_user" >/dev/null 2>&1; then
  # Run as root, SQLite's -wal/-shm files would become root's and the service
  # could no longer open its database.
  migrate_cmd="runuser -u $service_user -- node dist/cli/main.js migrate"
else
  migrate_cmd="node dist/cli/main.js migrate"
fi

say() { printf 'deploy: %s\n' "$*"; }
fail() {
  printf 'deploy: error: %s\n' "$*" >&2
  exit 1
}

# Exports KEY=VALUE lines read the way systemd's EnvironmentFile does (no
# shell expansion, optional surrounding quotes), so values with spaces are safe.
load_env_file() {
  [[ -e "$1" ]] || return 0
  local line key value
  while IFS= read -r line || [[ -n "$line" ]]; do
    [[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
    if [[ "$line" =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]]; then
      key="${BASH_REMATCH[2]}"
      value="${BASH_REMATCH[3]}"
      if [[ "$value" =~ ^\"(.*)\"$ || "$value" =~ ^\'(.*)\'$ ]]; then
        value="${BASH_REMATCH[1]}"
      fi
      export "$key=$value"
    fi
  done <"$1"
  return 0
}

# With a third argument the step also gets the server's settings (the env
# file); the others do not, so e.g. its GIT_SSH_COMMAND, meant for the firmware
# mirror, never reaches git or npm here.
run_step() {
  local what="$1" cmd="$2" with_settings="${3:-}"
  say "$what: $cmd"
  if ! (cd "$install_dir" && if [[ -n "$with_settings" ]]; then load_env_file "$env_file"; fi && bash -c "$cmd"); then
    printf 'deploy: error: %s failed: %s\n' "$what" "$cmd" >&2
    return 1
  fi
}

check_health() {
  local try
  say "checking $health_url (up to $health_tries tries, ${health_interval}s apart, ${health_timeout}s each at most)"
  for ((try = 1; try <= health_tries; try++)); do
    # node is on every host that runs ota-gate; curl may not be. Its http module, not fetch: fetch
    # loads undici first, three times the CPU of the whole check. The deadline covers the whole
    # answer: a socket timeout alone would let a server that trickles bytes hold a try for ever.
    if node -e '
      let url;
      try { url = new URL(process.argv[1]); } catch { process.exit(1); }
      setTimeout(() => process.exit(1), Number(process.argv[2]) * 1000).unref();
      const client = require(url.protocol === "https:" ? "https" : "http");
      client.get(url, (r) => {
        let body = "";
        r.setEncoding("utf8");
        r.on("data", (d) => {
          body += d;
          if (body.length > 4096) process.exit(1);
        });
        r.on("end", () => {
          let ok = false;
          try { ok = r.statusCode === 200 && JSON.parse(body).status === "ok"; } catch {}
          process.exit(ok ? 0 : 1);
        });
      }).on("error", () => process.exit(1));
    ' "$health_url" "$health_timeout"; then
      say "healthy after $try tries"
      return 0
    fi
    if ((try < health_tries)); then sleep "$health_interval"; fi
  done
  printf 'deploy: error: %s did not answer 200 {"status":"ok"} after %s tries\n' "$health_url" "$health_tries" >&2
  return 1
}

bring_up() {
  run_step "installing dependencies and building" "$install_cmd" || return 1
  run_step "applying migrations" "$migrate_cmd" with-settings || return 1
  run_step "restarting" "$restart_cmd" || return 1
  check_health
}

roll_back() {
  local previous="$1" failed="$2"
  say "returning to the previous commit $previous"
  if git -C "$install_dir" reset --hard --quiet "$previous" &&
    run_step "reinstalling the previous version" "$install_cmd" &&
    run_step "restarting the previous version" "$restart_cmd" &&
    check_health; then
    printf 'deploy: error: %s did not come up; the installation is back at %s and healthy. Migrations the new version applied stay applied.\n' "$failed" "$previous" >&2
    exit 3
  fi
  printf 'deploy: error: %s did not come up, and returning to %s failed too: the server needs attention by hand (see docs/install.md, "4. Rolling back", "The server itself").\n' "$failed" "$previous" >&2
  exit 4
}

[[ "$branch" =~ ^[A-Za-z0-9._/-]+$ ]] || fail "OTA_DEPLOY_BRANCH '$branch' is not a branch name"
if [[ -n "${OTA_DEPLOY_BRANCH:-}" ]]; then
  say "deploying branch $branch of $remote (OTA_DEPLOY_BRANCH)"
else
  say "deploying branch $branch of $remote (the default; OTA_DEPLOY_BRANCH names another)"
fi
[[ -d "$install_dir" ]] || fail "$install_dir does not exist (set OTA_INSTALL_DIR)"
git_error="$(git -C "$install_dir" rev-parse --is-inside-work-tree 2>&1)" ||
  fail "$install_dir is not a usable git checkout: $git_error"
git_dir="$(git -C "$install_dir" rev-parse --absolute-git-dir)"

# One deploy at a time: a second one would race on the checkout and the restart.
exec 9>"$git_dir/ota-gate-deploy.lock"
flock -n 9 || fail "another deploy is running in $install_dir"

# Checked before anything changes: a bad number would otherwise fail every try and roll back.
[[ "$health_tries" =~ ^[1-9][0-9]*$ ]] || fail "OTA_HEALTH_TRIES is '$health_tries'; give a whole number of tries, 1 or more"
[[ "$health_interval" =~ ^[0-9]+(\.[0-9]+)?$ ]] || fail "OTA_HEALTH_INTERVAL is '$health_interval'; give seconds, e.g. 2 or 0.5"
[[ "$health_timeout" =~ ^[0-9]*[1-9][0-9]*(\.[0-9]+)?$|^0\.[0-9]*[1-9][0-9]*$ ]] ||
  fail "OTA_HEALTH_TIMEOUT is '$health_timeout'; give seconds above 0, e.g. 5 or 0.5"

current_branch="$(git -C "$install_dir" symbolic-ref --quiet --short HEAD || true)"
[[ "$current_branch" == "$branch" ]] ||
  fail "$install_dir is on '${current_branch:-a detached HEAD}', not '$branch'; this deploys only $branch (git -C $install_dir checkout $branch, or set OTA_DEPLOY_BRANCH=${current_branch:-<branch>})"
[[ -z "$(git -C "$install_dir" status --porcelain --untracked-files=no)" ]] ||
  fail "$install_dir has local changes to tracked files; commit them upstream or discard them first (git -C $install_dir status)"

if [[ -e "$env_file" ]]; then
  # Without it the migrate step would open ./data instead of the real database.
  [[ -r "$env_file" ]] || fail "cannot read $env_file; run as root (sudo)"
  say "server settings: $env_file"
else
  say "no $env_file; the migrate step uses this shell's environment"
fi
if [[ -z "$health_url" ]]; then
  listen="$(
    load_env_file "$env_file"
    host="${OTA_HOST:-0.0.0.0}"
    case "$host" in 0.0.0.0 | :: | '[::]') host=127.0.0.1 ;; *:*) host="[$host]" ;; esac
    printf '%s:%s' "$host" "${OTA_PORT:-8080}"
  )"
  health_url="http://$listen/healthz"
fi

previous="$(git -C "$install_dir" rev-parse HEAD)"
say "installed: $previous ($branch)"
say "fetching $remote/$branch"
git -C "$install_dir" fetch --quiet "$remote" "+refs/heads/$branch:refs/remotes/$remote/$branch" ||
  fail "could not fetch $branch from $remote"
target="$(git -C "$install_dir" rev-parse "refs/remotes/$remote/$branch")"
if [[ "$target" == "$previous" ]]; then
  say "already at $remote/$branch ($target); nothing to do"
  exit 0
fi
if ! git -C "$install_dir" merge --ff-only --quiet "refs/remotes/$remote/$branch"; then
  fail "$remote/$branch ($target) is not a fast-forward of the installed $previous: its history was rewritten. Refusing to deploy; nothing changed. Find out why $branch moved before deploying by hand."
fi
say "updated $previous -> $target:"
git -C "$install_dir" log --oneline --no-decorate "$previous..$target" | sed 's/^/deploy:   /'

if ! bring_up; then
  roll_back "$previous" "$target"
fi
say "deployed $target"
