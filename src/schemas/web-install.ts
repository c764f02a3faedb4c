import { Type, type Static } from '@sinclair/typebox'
import { CHIP_FAMILIES } from '../esp/chips'

/** The ESP Web Tools manifest (esp-web-tools' `Manifest` type, checked in test/first-flash.test.ts): one build, the whole flash from 0. */
export const WebInstallManifest = Type.Object({
  name: Type.String(),
  version: Type.String(),
  new_install_prompt_erase: Type.Boolean(),
  builds: Type.Array(
    Type.Object({
      chipFamily: Type.Union(Object.values(CHIP_FAMILIES).map((family) => Type.Literal(family))),
      parts: Type.Array(Type.Object({ path: Type.String(), offset: Type.Integer() })),
    })
  ),
})
export type WebInstallManifest = Static<typeof WebInstallManifest>
