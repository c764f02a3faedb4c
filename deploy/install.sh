#!/usr/bin/env bash
# First install of ota-gate on a host, from the clone this script sits in,
# which must be /opt/ota-gate (the units' WorkingDirectory). Run as root.
#
# Creates what is missing and changes nothing that exists: the ota-gate user,
# /var/lib/ota-gate (data), /etc/ota-gate/ota-gate.env (from .env.example),
# the systemd units (enabled, not started). With OTA_FIRMWARE_REPO=<git URL>
# it also makes the empty bare mirror that ota-gate-mirror.service fills.
# It does not run npm ci, start the service, or touch nginx: docs/install.md
# lists those steps.
set -euo pipefail

readonly install_dir=/opt/ota-gate
readonly user=ota-gate
readonly data_dir=/var/lib/ota-gate
readonly etc_dir=/etc/ota-gate
readonly env_file=$etc_dir/ota-gate.env
readonly mirror_dir=$data_dir/firmware.git
readonly unit_dir=/etc/systemd/system

say() { printf 'install: %s\n' "$*"; }
fail() {
  printf 'install: error: %s\n' "$*" >&2
  exit 1
}

# Sets KEY=value in the env file: replaces the first KEY= line (commented out
# or not), or appends one.
set_setting() {
  local file="$1" key="$2" value="$3" tmp
  tmp="$(mktemp "$file.XXXXXX")"
  awk -v key="$key" -v value="$value" '
    !done && $0 ~ "^[#[:space:]]*" key "=" { print key "=" value; done = 1; next }
    { print }
    END { if (!done) print key "=" value }
  ' "$file" >"$tmp"
  mv "$tmp" "$file"
}

[[ $EUID -eq 0 ]] || fail "run as root (sudo $0)"
repo_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ "$repo_dir" == "$install_dir" ]] ||
  fail "this clone is at $repo_dir; clone ota-gate to $install_dir (the units run it from there)"

if id -u "$user" >/dev/null 2>&1; then
  say "user $user exists"
else
  say "creating system user $user"
  useradd --system --user-group --home-dir "$data_dir" --no-create-home \
    --shell /usr/sbin/nologin "$user"
fi

say "data folder $data_dir (owner $user, 0750)"
install -d -m 0750 -o "$user" -g "$user" "$data_dir"
say "settings folder $etc_dir (root:$user, 0750)"
install -d -m 0750 -o root -g "$user" "$etc_dir"

if [[ -n "${OTA_FIRMWARE_REPO:-}" && ! -e "$mirror_dir" ]]; then
  say "creating the firmware mirror $mirror_dir for $OTA_FIRMWARE_REPO"
  runuser -u "$user" -- git init --quiet --bare "$mirror_dir"
  runuser -u "$user" -- git -C "$mirror_dir" remote add origin "$OTA_FIRMWARE_REPO"
fi

if [[ -e "$env_file" ]]; then
  say "$env_file exists; left as it is"
else
  say "writing $env_file"
  tmp_env="$(mktemp "$env_file.XXXXXX")"
  if [[ -f "$repo_dir/.env.example" ]]; then
    cp "$repo_dir/.env.example" "$tmp_env"
  fi
  set_setting "$tmp_env" OTA_DATA_DIR "$data_dir"
  # nginx in front (deploy/nginx/ota-gate.conf) is the only way in.
  set_setting "$tmp_env" OTA_HOST 127.0.0.1
  set_setting "$tmp_env" OTA_TRUST_PROXY 127.0.0.1
  if [[ -e "$mirror_dir" ]]; then
    set_setting "$tmp_env" OTA_GIT_DIR "$mirror_dir"
  fi
  chown root:"$user" "$tmp_env"
  chmod 0640 "$tmp_env"
  mv "$tmp_env" "$env_file"
fi

say "installing systemd units into $unit_dir"
install -m 0644 "$repo_dir"/deploy/systemd/ota-gate.service \
  "$repo_dir"/deploy/systemd/ota-gate-mirror.service \
  "$repo_dir"/deploy/systemd/ota-gate-mirror.timer "$unit_dir"/
systemctl daemon-reload
systemctl enable ota-gate.service ota-gate-mirror.timer

say "done. Next (docs/install.md): edit $env_file, run 'npm ci' in $install_dir,"
say "start the mirror (systemctl start ota-gate-mirror.service) if you set OTA_GIT_DIR,"
say "systemctl start ota-gate, then include deploy/nginx/ota-gate.conf in nginx."
