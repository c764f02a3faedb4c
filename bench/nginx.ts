import fs from 'node:fs'
import path from 'node:path'
import { SERVER_CPU, start, waitForHttp, type Child } from './processes'

export const NGINX_SETTINGS = 'nginx 1 worker, sendfile on, tcp_nopush on, access_log off, keepalive_requests 1000000'

/** The nginx binary: on PATH, or where Debian puts it (/usr/sbin is not on a user's PATH). */
export function nginxBinary(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin']
  return dirs.map((d) => path.join(d, 'nginx')).find((f) => fs.existsSync(f))
}

/**
 * nginx serving `root` as static files on 127.0.0.1:`port`, one worker (as ota-gate is one process)
 * on the server core, with the settings a production static host would use. Its prefix, pid, logs
 * and temp folders live under `dir`.
 */
export async function startNginx(binary: string, dir: string, root: string, port: number): Promise<Child> {
  // Workers run as nobody when the master is root: the served files must be readable to them.
  fs.chmodSync(root, 0o755)
  return runNginx(binary, dir, port, '', `root ${root};`)
}

/**
 * nginx in front of ota-gate instances on `ports` (the upstream of deploy/nginx: keep-alive
 * connections, the next instance on an error or a timeout), otherwise as startNginx.
 */
export async function startNginxProxy(binary: string, dir: string, port: number, ports: number[]): Promise<Child> {
  const upstream = `upstream ota_gate_instances {
${ports.map((p) => `    server 127.0.0.1:${p};`).join('\n')}
    keepalive 64;
  }`
  const server = `proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $host;
    proxy_set_header X-Forwarded-For $remote_addr;
    proxy_next_upstream error timeout;
    location / { proxy_pass http://ota_gate_instances; }`
  return runNginx(binary, dir, port, upstream, server)
}

async function runNginx(binary: string, dir: string, port: number, httpExtra: string, serverBody: string): Promise<Child> {
  for (const sub of ['logs', 'tmp']) fs.mkdirSync(path.join(dir, sub), { recursive: true })
  fs.chmodSync(dir, 0o755)
  const t = path.join(dir, 'tmp')
  const conf = `
worker_processes 1;
daemon off;
pid ${path.join(dir, 'nginx.pid')};
error_log ${path.join(dir, 'logs', 'error.log')} warn;
events { worker_connections 4096; }
http {
  types { application/json json; application/octet-stream bin; }
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 65;
  client_body_temp_path ${t}/body;
  proxy_temp_path ${t}/proxy;
  fastcgi_temp_path ${t}/fastcgi;
  uwsgi_temp_path ${t}/uwsgi;
  scgi_temp_path ${t}/scgi;
  ${httpExtra}
  server {
    listen 127.0.0.1:${port};
    location = /nginx-healthz { return 200 "ok"; }
    ${serverBody}
  }
}
`
  const file = path.join(dir, 'nginx.conf')
  fs.writeFileSync(file, conf)
  const child = start(binary, ['-p', dir, '-c', file], { cpu: SERVER_CPU })
  await waitForHttp(`http://127.0.0.1:${port}/nginx-healthz`, child)
  return child
}
