/**
 * whisper.cpp's ggml models as published on Hugging Face (`ggerganov/whisper.cpp`), by the names of
 * whisper.cpp's models/download-ggml-model.sh. SHA-1s are those of whisper.cpp's models/README.md;
 * exact sizes are as pinned by third-party code (a download is checked against both when known).
 * Where no checksum is published we say so (`checksum: undefined`) rather than guess one.
 */
import { isAbsolute, join, resolve } from 'node:path';

export const DEFAULT_MODEL_BASE_URL = 'https://huggingface.co/ggerganov/whisper.cpp/resolve/main';

export interface ModelChecksum {
  algorithm: 'sha1' | 'sha256';
  hex: string;
}

export interface CatalogModel {
  name: string;
  /** `ggml-<name>.bin`: the name on the server and in the models folder. */
  file: string;
  /** Exact size where known. */
  bytes: number | undefined;
  /** For listings: whisper.cpp's rounded size, where it gives one. */
  approxMiB: number | undefined;
  checksum: ModelChecksum | undefined;
  multilingual: boolean;
}

const MiB = 1024 * 1024;
const sha1 = (hex: string): ModelChecksum => ({ algorithm: 'sha1', hex });

// name, approximate MiB and exact bytes (0: unknown), checksum
const ENTRIES: Array<[string, number, number, ModelChecksum | undefined]> = [
  ['tiny', 75, 77_691_713, sha1('bd577a113a864445d4c299885e0cb97d4ba92b5f')],
  ['tiny.en', 75, 77_704_715, sha1('c78c86eb1a8faa21b369bcd33207cc90d64ae9df')],
  ['tiny-q5_1', 31, 32_152_673, { algorithm: 'sha256', hex: '818710568da3ca15689e31a743197b520007872ff9576237bda97bd1b469c3d7' }],
  ['tiny.en-q5_1', 0, 0, undefined],
  ['tiny-q8_0', 0, 0, undefined],
  ['base', 142, 147_951_465, sha1('465707469ff3a37a2b9b8d8f89f2f99de7299dac')],
  ['base.en', 142, 147_964_211, sha1('137c40403d78fd54d454da0f9bd998f78703390c')],
  ['base-q5_1', 0, 0, undefined],
  ['base.en-q5_1', 0, 0, undefined],
  ['base-q8_0', 0, 0, undefined],
  ['small', 466, 487_601_967, sha1('55356645c2b361a969dfd0ef2c5a50d530afd8d5')],
  ['small.en', 466, 487_614_201, sha1('db8a495a91d927739e50b3fc1cc4c6b8f6c2d022')],
  ['small-q5_1', 0, 0, undefined],
  ['small.en-q5_1', 0, 0, undefined],
  ['small-q8_0', 0, 0, undefined],
  ['medium', 1536, 1_533_763_059, sha1('fd9727b6e1217c2f614f9b698455c4ffd82463b4')],
  ['medium.en', 1536, 1_533_774_781, sha1('8c30f0e44ce9560643ebd10bbe50cd20eafd3723')],
  ['medium-q5_0', 0, 0, undefined],
  ['medium.en-q5_0', 0, 0, undefined],
  ['medium-q8_0', 0, 0, undefined],
  ['large-v1', 2970, 3_094_623_691, sha1('b1caaf735c4cc1429223d5a74f0f4d0b9b59a299')],
  ['large-v2', 2970, 3_094_623_691, sha1('0f4c8e34f21cf1a914c59d8b3ce882345ad349d6')],
  ['large-v2-q5_0', 1126, 0, sha1('00e39f2196344e901b3a2bd5814807a769bd1630')],
  ['large-v2-q8_0', 0, 0, undefined],
  ['large-v3', 2970, 3_095_033_483, sha1('ad82bf6a9043ceed055076d0fd39f5f186ff8062')],
  ['large-v3-q5_0', 1126, 0, sha1('e6e2ed78495d403bef4b7cff42ef4aaadcfea8de')],
  ['large-v3-turbo', 1536, 1_624_555_275, sha1('4af2b29d7ec73d781377bfd1758ca957a807e941')],
  ['large-v3-turbo-q5_0', 547, 0, sha1('e050f7970618a659205450ad97eb95a18d69c9ee')],
  ['large-v3-turbo-q8_0', 0, 0, undefined],
];

export const MODEL_CATALOG: readonly CatalogModel[] = ENTRIES.map(([name, approxMiB, bytes, checksum]) => ({
  name,
  file: modelFileName(name),
  bytes: bytes > 0 ? bytes : undefined,
  approxMiB: approxMiB > 0 ? approxMiB : undefined,
  checksum,
  multilingual: !name.includes('.en'),
}));

export function modelFileName(name: string): string {
  return `ggml-${name}.bin`;
}

export function findModel(name: string): CatalogModel | undefined {
  return MODEL_CATALOG.find((m) => m.name === name);
}

/** Where a model is downloaded from. */
export function modelUrl(model: CatalogModel, baseUrl: string = DEFAULT_MODEL_BASE_URL): string {
  return `${baseUrl.replace(/\/+$/, '')}/${model.file}`;
}

/**
 * The file for EARSHOT_WHISPER_MODEL: a path (it has a slash or ends in `.bin`) as given, else a
 * model name in the models folder (`base.en` → `<modelsDir>/ggml-base.en.bin`).
 */
export function resolveModelPath(nameOrPath: string, modelsDir: string): string {
  if (nameOrPath.includes('/') || nameOrPath.includes('\\') || nameOrPath.endsWith('.bin')) {
    return isAbsolute(nameOrPath) ? nameOrPath : resolve(nameOrPath);
  }
  return join(modelsDir, modelFileName(nameOrPath));
}

/** The size to show: exact, else whisper.cpp's rounded one, else unknown. */
export function approxBytes(m: CatalogModel): number | undefined {
  return m.bytes ?? (m.approxMiB === undefined ? undefined : m.approxMiB * MiB);
}
