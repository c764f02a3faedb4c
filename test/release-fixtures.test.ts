import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { trustedKey, uploadAndPost, type ReleaseFields } from './support/publish'
import { cli, createToken, startServer } from './support/server'

// Releases of real images built by Espressif's toolchains (see ../shared/fixtures/esp-images/README.md).

const projectRoot = path.resolve(__dirname, '..')
const fixtures = path.join(path.resolve(projectRoot, '../shared'), 'fixtures', 'esp-images')
const missing = fs.existsSync(fixtures) ? false : `${fixtures} does not exist`
const fixture = (name: string) => fs.readFileSync(path.join(fixtures, name))

t.test('real images: published where the chip matches, refused where it does not or when not an application', { skip: missing }, async (t) => {
  const server = await startServer(t)
  const token = await createToken(server.dataDir, 'releaser')
  const key = await trustedKey(server)
  const publish = (fields: ReleaseFields) => uploadAndPost(server, token, key, fields)

  const hello = await publish({ version: 'mason', sequence: 1, image: fixture('hello_world_esp32.bin') })
  t.equal(hello.status, 201, JSON.stringify(hello.body))
  t.match(hello.body, {
    sha256: '85c952fccbf094f04f23ab744bdc3b9d3148625a95445fdec7aa4ef3bba29b25',
    size: 120432,
    image: { chip: 'esp32', project_name: 'hello_world', app_version: 'qa-test-esp32c61-master-2025070' },
  })

  const blink = fixture('esp_idf_blink_esp32s2.bin')
  const onCam = await publish({ version: 'blink', sequence: 2, image: blink })
  t.equal(onCam.status, 422)
  t.equal(onCam.body.error, 'chip_mismatch')
  t.match(onCam.body.message, 'built for esp32s2 (chip id 2), but board esp32cam is esp32 (chip id 0)')
  const added = await cli(['board', 'add', 'saola', '--chip', 'esp32s2', '--slot-size', '1966080'], { OTA_DATA_DIR: server.dataDir })
  t.equal(added.code, 0, added.stderr)
  const onS2 = await publish({ board: 'saola', version: 'blink', sequence: 1, image: blink })
  t.equal(onS2.status, 201, JSON.stringify(onS2.body))
  t.match(onS2.body, { board: 'saola', image: { chip: 'esp32s2', project_name: 'blink' } })

  for (const [file, reason] of [
    ['bootloader_esp32_v5_2.bin', /no_app_descriptor/],
    ['helloworld-esp32.bin', /no_app_descriptor/],
  ] as const) {
    const r = await publish({ version: 'notanapp', sequence: 3, image: fixture(file) })
    t.equal(r.status, 422, file)
    t.equal(r.body.error, 'image_invalid', file)
    t.match(r.body.message, reason, file)
  }
})
