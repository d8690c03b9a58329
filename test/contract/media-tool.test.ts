/**
 * The MediaTool contract, with real ffmpeg: what a user of the port relies on (real recordings and
 * videos probe and decode to 16 kHz mono WAV), and what an attacker must not get (a crafted file
 * that makes ffmpeg read another file or a URL, or run for ages). Shared media is read in place from
 * ../shared beside the checkout; crafted files are made in a temp dir.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { constants, copyFile, mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createFfmpegMediaTool, type FfmpegMediaToolConfig } from '../../src/adapters/media/ffmpeg/ffmpeg-media-tool.js';
import { EarshotError } from '../../src/core/errors.js';
import { parseWavHeader, wavHeader } from '../../src/core/wav.js';
import type { DecodeWarning, MediaTool } from '../../src/ports/media-tool.js';
import { makeDamagedCorpus, seededBytes, type DamagedCorpus, type DamagedFiles } from '../support/damaged-media.js';
import { SPEECH_DIR, VIDEO_DIR } from '../support/speech.js';

const execFileP = promisify(execFile);
const SPEECH = SPEECH_DIR;
const VIDEO = VIDEO_DIR;

interface MediaToolHarness {
  /** A tool with the adapter's defaults, or these limits where the test sets them. */
  create(limits?: { maxDurationSeconds?: number; maxMemoryBytes?: number }): MediaTool;
  /** Whether the adapter can enforce a memory limit here (for the memory-limit test). */
  limitsMemory: boolean;
}

/** Real media, with the audio length it holds (from the source recording where one is known). */
const GOOD_MEDIA: { file: string; format: string; codec: string; audioSeconds: number; video: boolean }[] = [
  { file: `${SPEECH}/jfk/jfk.wav`, format: 'wav', codec: 'pcm_s16le', audioSeconds: 11, video: false },
  { file: `${SPEECH}/jfk/jfk.mp3`, format: 'mp3', codec: 'mp3', audioSeconds: 11, video: false },
  { file: `${SPEECH}/fleurs/en/fleurs-en-000.ogg`, format: 'ogg', codec: 'opus', audioSeconds: 10.5665, video: false },
  { file: `${SPEECH}/long/concat-es-human.flac`, format: 'flac', codec: 'flac', audioSeconds: 131.568, video: false },
  { file: `${VIDEO}/big_buck_bunny_60s_640x360.mp4`, format: 'mov,mp4,m4a,3gp,3g2,mj2', codec: 'aac', audioSeconds: 60.139, video: true },
  { file: `${VIDEO}/speech_jfk_en_320x180.mp4`, format: 'mov,mp4,m4a,3gp,3g2,mj2', codec: 'aac', audioSeconds: 11, video: true },
  { file: `${VIDEO}/bbb_10s_vp9_opus.webm`, format: 'matroska,webm', codec: 'opus', audioSeconds: 10, video: true },
  // Its audio is fleurs-es-000.ogg (12.85 s) under a 13 s picture.
  { file: `${VIDEO}/speech_fleurs-es-000_320x180.webm`, format: 'matroska,webm', codec: 'opus', audioSeconds: 12.8465, video: true },
  { file: `${VIDEO}/bbb_10s_320x180_h264_aac.mkv`, format: 'matroska,webm', codec: 'aac', audioSeconds: 10, video: true },
];

/** The codes of a decode's warnings, sorted. */
const codes = (warnings: readonly DecodeWarning[]) => warnings.map((w) => w.code).sort();

function mediaToolContract(name: string, harness: MediaToolHarness): void {
  describe(`MediaTool contract: ${name}`, () => {
    let dir: string;
    let tool: MediaTool;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'earshot-media-contract-'));
      tool = harness.create();
    });
    after(async () => {
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    /** Fails unless `promise` rejects with this code and reason, permanently, naming no path of ours. */
    async function rejectsWith(promise: Promise<unknown>, code: string, reason: string): Promise<EarshotError> {
      let caught: unknown;
      await assert.rejects(promise, (err) => ((caught = err), true));
      assert.ok(caught instanceof EarshotError, `expected an EarshotError, got ${String(caught)}`);
      assert.deepEqual({ code: caught.code, reason: caught.details?.reason }, { code, reason }, caught.message);
      assert.equal(caught.retryable, false);
      assert.ok(!caught.message.includes(dir) && !caught.message.includes('/'), `the message names a path: ${caught.message}`);
      assert.ok(!JSON.stringify(caught.details).includes(dir), `details name a path: ${JSON.stringify(caught.details)}`);
      return caught;
    }

    /** Runs a decode that must fail, and checks it left neither the output nor a temp file. */
    async function decodeFails(input: string, code: string, reason: string, t: MediaTool = tool): Promise<EarshotError> {
      const outDir = await mkdtemp(join(dir, 'out-'));
      const err = await rejectsWith(t.decodeAudio(input, join(outDir, 'audio.wav')), code, reason);
      assert.deepEqual(await readdir(outDir), []);
      return err;
    }

    describe('real media', () => {
      for (const m of GOOD_MEDIA) {
        it(`probes and decodes ${m.file.slice(m.file.lastIndexOf('/') + 1)} to 16 kHz mono WAV`, async () => {
          const info = await tool.probe(m.file);
          assert.equal(info.formatName, m.format);
          assert.equal(info.sizeBytes, (await stat(m.file)).size);
          assert.equal(info.audio.length, 1);
          assert.equal(info.audio[0]!.codec, m.codec);
          assert.ok(info.audio[0]!.sampleRate >= 16_000 && info.audio[0]!.channels >= 1);
          assert.equal(info.video.length > 0, m.video);
          assert.ok(Math.abs((info.durationSeconds ?? 0) - m.audioSeconds) < 0.2, `declared ${info.durationSeconds}`);

          const out = join(dir, `${m.format.split(',')[0]}-${m.audioSeconds}.wav`);
          const progress: number[] = [];
          const { durationSeconds, warnings } = await tool.decodeAudio(m.file, out, { onProgress: (s) => progress.push(s) });
          assert.ok(Math.abs(durationSeconds - m.audioSeconds) <= 0.1, `decoded ${durationSeconds} s, expected ${m.audioSeconds}`);
          assert.deepEqual(warnings, [], 'a sound file decodes without warnings');
          await assertMonoWav(out, 16_000, durationSeconds);
          assert.ok(progress.length > 0 && progress.every((s, i) => i === 0 || s >= progress[i - 1]!), `progress ${progress.join(',')}`);
          assert.ok(Math.abs(progress.at(-1)! - durationSeconds) <= 0.1);
        });
      }

      it('decodes at another sample rate and replaces an existing output whole', async () => {
        const out = join(dir, 'jfk-8k.wav');
        await writeFile(out, 'old contents');
        const { durationSeconds } = await tool.decodeAudio(`${SPEECH}/jfk/jfk.mp3`, out, { sampleRate: 8000 });
        await assertMonoWav(out, 8000, durationSeconds);
        assert.deepEqual((await readdir(dir)).filter((f) => f.endsWith('.tmp')), []);
      });

      it('probes a video without audio, and refuses to decode it (no_audio)', async () => {
        const avi = `${VIDEO}/fluent-ffmpeg-testvideo-43_noaudio.avi`;
        const info = await tool.probe(avi);
        assert.equal(info.formatName, 'avi');
        assert.deepEqual(info.audio, []);
        assert.deepEqual([info.video[0]?.width, info.video[0]?.height], [1024, 768]);
        await decodeFails(avi, 'unsupported_media', 'no_audio');
      });

      it('treats names that look like options or URLs as file names', async () => {
        for (const name of ['-i', 'http:evil', 'concat:a|b', ' spaced name.wav']) {
          const path = join(dir, name);
          await copyFile(`${SPEECH}/jfk/jfk.wav`, path);
          const info = await tool.probe(path);
          assert.equal(info.formatName, 'wav', name);
          const { durationSeconds } = await tool.decodeAudio(path, join(dir, `named-${Buffer.from(name).toString('hex')}.wav`));
          assert.equal(durationSeconds, 11, name);
        }
      });
    });

    describe('files that are not media, or are broken', () => {
      it('a text file named .mp3 is unsupported (ffmpeg only guessed mp3 from the name)', async () => {
        const path = join(dir, 'notes.mp3');
        await writeFile(path, 'Meeting notes\nThis is not audio at all.\n'.repeat(20));
        await rejectsWith(tool.probe(path), 'unsupported_media', 'unrecognized');
        await decodeFails(path, 'unsupported_media', 'unrecognized');
      });

      // Nothing recognises random bytes as media, so they are unsupported; corrupt_media is kept for a
      // file that a container demuxer recognised and could not read.
      it('random bytes are unsupported, whatever their name', async () => {
        const noise = seededBytes(64 * 1024);
        for (const name of ['noise.bin', 'noise.mp3', 'noise.wav']) {
          await writeFile(join(dir, name), noise);
          await rejectsWith(tool.probe(join(dir, name)), 'unsupported_media', 'unrecognized');
        }
      });

      it('an empty file, a directory and a FIFO are unsupported without running ffmpeg on them', async () => {
        await writeFile(join(dir, 'empty.wav'), '');
        await rejectsWith(tool.probe(join(dir, 'empty.wav')), 'unsupported_media', 'empty');
        await mkdir(join(dir, 'folder.wav'));
        await rejectsWith(tool.probe(join(dir, 'folder.wav')), 'unsupported_media', 'not_a_file');
        await execFileP('mkfifo', [join(dir, 'pipe.wav')]);
        await rejectsWith(tool.probe(join(dir, 'pipe.wav')), 'unsupported_media', 'not_a_file');
      });

      it('audio in a codec nobody can decode probes, and fails to decode as unsupported (codec)', async () => {
        const header = wavHeader(32_000, 16_000);
        header.writeUInt16LE(0x1234, 20); // WAVE format tag: not a registered codec
        await writeFile(join(dir, 'odd-codec.wav'), Buffer.concat([header, Buffer.alloc(32_000)]));
        assert.equal((await tool.probe(join(dir, 'odd-codec.wav'))).audio[0]?.codec, 'unknown');
        await decodeFails(join(dir, 'odd-codec.wav'), 'unsupported_media', 'codec');
      });

      it('an mp4 cut before its index (moov) is corrupt', async () => {
        // This file keeps its moov at the end, so the first 100 kB hold media data and no index.
        const path = await firstBytes(`${VIDEO}/speech_jfk_en_320x180.mp4`, 100_000, 'cut-before-moov.mp4');
        await rejectsWith(tool.probe(path), 'corrupt_media', 'invalid_data');
        await decodeFails(path, 'corrupt_media', 'invalid_data');
      });

      // A cut file used to fail as corrupt (truncated); what it holds is now decoded, and the warning
      // says how much is missing (see the corpus tests below).
      it('a file cut short of the length it declares up front decodes what it holds, with a truncated warning', async () => {
        const mp4 = await firstBytes(`${VIDEO}/big_buck_bunny_60s_640x360.mp4`, 300_000, 'cut-after-moov.mp4');
        assert.ok((await tool.probe(mp4)).durationSeconds! > 60, 'the index still declares 60 s');
        const { durationSeconds, warnings } = await tool.decodeAudio(mp4, join(dir, 'cut-after-moov.wav'));
        const truncated = warnings.find((w) => w.code === 'truncated');
        assert.ok(truncated && truncated.code === 'truncated', JSON.stringify(warnings));
        assert.ok(durationSeconds > 1 && durationSeconds < 10, `decoded ${durationSeconds}`);
        assert.equal(truncated.decoded_seconds, Math.round(durationSeconds * 1000) / 1000);
        assert.ok(Math.abs(truncated.declared_seconds - 60.139) < 0.01, `declared ${truncated.declared_seconds}`);
      });

      it('a WAV cut short decodes what it holds, with a truncated warning (its data chunk declares the whole length)', async () => {
        const wav = await firstBytes(`${SPEECH}/jfk/jfk.wav`, 100_044, 'cut.wav');
        assert.ok(Math.abs((await tool.probe(wav)).durationSeconds! - 100_000 / 32_000) < 0.01);
        const { durationSeconds, warnings } = await tool.decodeAudio(wav, join(dir, 'cut-decoded.wav'));
        assert.ok(Math.abs(durationSeconds - 100_000 / 32_000) < 0.01, `decoded ${durationSeconds}`);
        assert.deepEqual(
          warnings.map((w) => ({ ...w, message: '' })),
          [{ code: 'truncated', message: '', declared_seconds: 11, decoded_seconds: 3.124 }],
        );
      });

      it('an Ogg cut short decodes what it holds without a warning (Ogg states its length only at the end)', async () => {
        const ogg = await firstBytes(`${SPEECH}/fleurs/en/fleurs-en-000.ogg`, 12_000, 'cut.ogg');
        const decoded = await tool.decodeAudio(ogg, join(dir, 'cut-ogg.wav'));
        assert.ok(decoded.durationSeconds > 2 && decoded.durationSeconds < 8, `decoded ${decoded.durationSeconds}`);
        assert.deepEqual(decoded.warnings, []);
      });
    });

    describe('damaged and unusual media (the corpus of test/support/damaged-media.ts)', () => {
      let corpus: DamagedCorpus;
      before(async () => {
        corpus = await makeDamagedCorpus(await mkdtemp(join(dir, 'corpus-')));
      });

      const decode = async (file: string) => tool.decodeAudio(file, join(dir, `corpus-out-${Buffer.from(file).toString('hex').slice(-24)}.wav`));

      it('every damaged file decodes what can be read, and says what went wrong', async () => {
        const expected: Record<keyof DamagedFiles, string[]> = {
          cutMp4: ['decode_errors', 'truncated'],
          cutMp3: ['truncated'],
          cutFlac: ['decode_errors', 'truncated'],
          cutWebm: ['decode_errors', 'truncated'],
          cutWav: ['truncated'],
          flippedMp3: ['decode_errors', 'truncated'],
          zeroedMp4: ['decode_errors', 'truncated'],
          zeroedFlac: ['truncated'],
          duplicatedMp3: ['decode_errors'],
        };
        for (const [name, file] of Object.entries(corpus.damaged) as [keyof DamagedFiles, string][]) {
          const { durationSeconds, warnings } = await decode(file);
          assert.deepEqual(codes(warnings), expected[name], `${name}: ${JSON.stringify(warnings)}`);
          assert.ok(durationSeconds > 1, `${name}: decoded ${durationSeconds} s`);
          for (const w of warnings) {
            assert.ok(w.message.length > 10 && !w.message.includes('/'), `${name}: ${w.message}`);
            if (w.code === 'decode_errors') assert.ok(Number.isInteger(w.count) && w.count > 0, `${name}: ${w.count}`);
            if (w.code === 'truncated') {
              assert.equal(w.decoded_seconds, Math.round(durationSeconds * 1000) / 1000, name);
              assert.ok(w.declared_seconds > w.decoded_seconds + 0.5, `${name}: ${JSON.stringify(w)}`);
            }
          }
        }
      });

      it('a file that declares a length but decodes to nothing is corrupt (no_samples)', async () => {
        await decodeFails(corpus.empty.framelessFlac, 'corrupt_media', 'no_samples');
      });

      it('a WAV header with no samples decodes to an empty WAV, without warnings', async () => {
        const out = join(dir, 'zero-samples-out.wav');
        const { durationSeconds, warnings } = await tool.decodeAudio(corpus.unusual.zeroSampleWav, out);
        assert.deepEqual({ durationSeconds, warnings }, { durationSeconds: 0, warnings: [] });
        await assertMonoWav(out, 16_000, 0);
      });

      it('WavPack, Matroska with a longer subtitle stream, and Ogg behind junk decode whole', async () => {
        const wv = await tool.probe(corpus.unusual.wavpack);
        assert.deepEqual([wv.formatName, wv.audio[0]?.codec], ['wv', 'wavpack']);
        const mkv = await tool.probe(corpus.unusual.subtitledMkv);
        assert.equal(mkv.durationSeconds, 30, 'the container lasts as long as the subtitle');
        assert.equal(mkv.audio[0]?.durationSeconds, 11, 'the audio stream declares its own length');
        const ogg = await tool.probe(corpus.unusual.junkOgg);
        assert.equal(ogg.formatName, 'ogg');
        for (const [file, seconds] of [
          [corpus.unusual.wavpack, 11],
          [corpus.unusual.subtitledMkv, 11],
          [corpus.unusual.junkOgg, 10.56],
        ] as const) {
          const { durationSeconds, warnings } = await decode(file);
          assert.ok(Math.abs(durationSeconds - seconds) < 0.05, `${file}: decoded ${durationSeconds}`);
          assert.deepEqual(warnings, [], file);
        }
      });

      it('junk in front of anything but a checksum-valid Ogg page is still unrecognised', async () => {
        const fake = join(dir, 'fake-ogg');
        // "OggS" and a plausible header, but no valid page checksum.
        await writeFile(fake, Buffer.concat([seededBytes(3000), Buffer.from('OggS\0\x02'), seededBytes(4000, 7)]));
        await rejectsWith(tool.probe(fake), 'unsupported_media', 'unrecognized');
      });

      it('a WAV header declaring 2^31 Hz is unsupported (sample_rate), with the same message as any rate out of bounds', async () => {
        const err = await rejectsWith(tool.probe(corpus.lying.hugeRateWav), 'unsupported_media', 'sample_rate');
        await decodeFails(corpus.lying.hugeRateWav, 'unsupported_media', 'sample_rate');
        await writeFile(join(dir, 'rate-1mhz.wav'), Buffer.concat([wavHeader(2000, 1_000_000), Buffer.alloc(2000)]));
        const bounded = await rejectsWith(tool.probe(join(dir, 'rate-1mhz.wav')), 'unsupported_media', 'sample_rate');
        assert.equal(err.message, bounded.message);
      });
    });

    describe('crafted files that point elsewhere', () => {
      let server: ReturnType<typeof createServer>;
      const requests: string[] = [];
      let port = 0;
      before(async () => {
        server = createServer((req: IncomingMessage, res) => {
          requests.push(`${req.method} ${req.url}`);
          res.writeHead(404).end();
        });
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
        port = (server.address() as AddressInfo).port;
      });
      after(async () => {
        server.closeAllConnections();
        await new Promise((r) => server.close(r));
      });

      const playlist = (local: string) =>
        ['#EXTM3U', '#EXT-X-TARGETDURATION:11', '#EXTINF:11.0,', local, '#EXTINF:11.0,', `http://127.0.0.1:${port}/segment.ts`, '#EXT-X-ENDLIST', ''].join('\n');

      it('an HLS playlist (named .m3u8 or .mp3) is refused, reading neither the local file nor the URL it lists', async () => {
        for (const name of ['evil.m3u8', 'evil.mp3']) {
          const fifo = await fifoSentinel(join(dir, `${name}-segment.ts`));
          await writeFile(join(dir, name), playlist(fifo.path));
          await rejectsWith(tool.decodeAudio(join(dir, name), join(dir, `${name}.wav`)), 'unsupported_media', 'format_not_allowed');
          await rejectsWith(tool.probe(join(dir, name)), 'unsupported_media', 'format_not_allowed');
          assert.equal(await fifo.release(), false, `${name}: the listed local file was opened`);
        }
        assert.deepEqual(requests, []);
      });

      it('the same playlist does make a plain ffprobe read the local file (the test can fail)', async () => {
        const fifo = await fifoSentinel(join(dir, 'control-segment.ts'));
        await writeFile(join(dir, 'control.m3u8'), playlist(fifo.path));
        await execFileP('ffprobe', ['-v', 'quiet', `file:${join(dir, 'control.m3u8')}`], { timeout: 20_000 }).catch(() => {});
        assert.equal(await fifo.release(), true);
      });

      it('a concat script named .wav is refused, and does not open what it lists', async () => {
        await writeFile(join(dir, 'passwd.wav'), 'ffconcat version 1.0\nfile /etc/passwd\n');
        await rejectsWith(tool.probe(join(dir, 'passwd.wav')), 'unsupported_media', 'format_not_allowed');
        const fifo = await fifoSentinel(join(dir, 'concat-part.ts'));
        await writeFile(join(dir, 'list.wav'), 'ffconcat version 1.0\nfile concat-part.ts\n');
        await rejectsWith(tool.decodeAudio(join(dir, 'list.wav'), join(dir, 'list-out.wav')), 'unsupported_media', 'format_not_allowed');
        assert.equal(await fifo.release(), false);
        // Control: plain ffprobe follows the list.
        const control = await fifoSentinel(join(dir, 'concat-part.ts'), { exists: true });
        await execFileP('ffprobe', ['-v', 'quiet', `file:${join(dir, 'list.wav')}`], { timeout: 20_000 }).catch(() => {});
        assert.equal(await control.release(), true);
      });

      it('an SDP session description (RTP over UDP) named .wav is refused', async () => {
        const sdp = ['v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=evil', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} RTP/AVP 0`, ''].join('\r\n');
        await writeFile(join(dir, 'session.wav'), sdp);
        await rejectsWith(tool.probe(join(dir, 'session.wav')), 'unsupported_media', 'format_not_allowed');
      });
    });

    describe('limits', () => {
      let longFlac: string;
      before(async () => {
        // Two hours of 8 kHz silence: 1 MB of FLAC that takes seconds to decode.
        longFlac = join(dir, 'two-hours.flac');
        await execFileP('ffmpeg', ['-nostdin', '-v', 'error', '-f', 'lavfi', '-i', 'anullsrc=r=8000:cl=mono', '-t', '7200', '-c:a', 'flac', '-y', longFlac]);
      });

      it('a call past its time limit fails (media_limit_exceeded) and leaves no ffmpeg running', async () => {
        for (const timeoutMs of [1, 600]) {
          const outDir = await mkdtemp(join(dir, 'timeout-'));
          await rejectsWith(tool.decodeAudio(longFlac, join(outDir, 'a.wav'), { timeoutMs }), 'media_limit_exceeded', 'timeout');
          assert.deepEqual(processesMentioning(outDir), []);
          assert.deepEqual(await readdir(outDir), []);
        }
      });

      it('an abort kills ffmpeg mid-decode and rejects with an AbortError', async () => {
        const outDir = await mkdtemp(join(dir, 'abort-'));
        const controller = new AbortController();
        let runningAtAbort: number[] = [];
        const decode = tool.decodeAudio(longFlac, join(outDir, 'a.wav'), {
          signal: controller.signal,
          onProgress: () => {
            if (controller.signal.aborted) return;
            runningAtAbort = processesMentioning(outDir);
            controller.abort();
          },
        });
        await assert.rejects(decode, { name: 'AbortError' });
        assert.equal(runningAtAbort.length, 1, 'ffmpeg was running when the signal fired');
        assert.deepEqual(processesMentioning(outDir), []);
        assert.deepEqual(await readdir(outDir), []);
        await assert.rejects(tool.probe(longFlac, { signal: AbortSignal.abort() }), { name: 'AbortError' });
      });

      it('a WAV header declaring 1 Hz, 1 MHz or 64 channels is unsupported', async () => {
        await writeFile(join(dir, '1hz.wav'), Buffer.concat([wavHeader(2000, 1), Buffer.alloc(2000)]));
        await rejectsWith(tool.probe(join(dir, '1hz.wav')), 'unsupported_media', 'sample_rate');
        await decodeFails(join(dir, '1hz.wav'), 'unsupported_media', 'sample_rate');
        await writeFile(join(dir, '1mhz.wav'), Buffer.concat([wavHeader(200_000, 1_000_000), Buffer.alloc(200_000)]));
        await rejectsWith(tool.probe(join(dir, '1mhz.wav')), 'unsupported_media', 'sample_rate');
        await writeFile(join(dir, '64ch.wav'), Buffer.concat([wavHeader(64 * 2 * 1600, 16_000, 64), Buffer.alloc(64 * 2 * 1600)]));
        await rejectsWith(tool.probe(join(dir, '64ch.wav')), 'unsupported_media', 'channels');
      });

      it('a FLAC whose header claims 10 hours is refused at once (too_long)', async () => {
        const flac = join(dir, 'claims-10h.flac');
        await execFileP('ffmpeg', ['-nostdin', '-v', 'error', '-i', `${SPEECH}/jfk/jfk.wav`, '-c:a', 'flac', '-y', flac]);
        const bytes = await readFile(flac);
        setFlacTotalSamples(bytes, 16_000 * 36_000);
        await writeFile(flac, bytes);
        const started = Date.now();
        const err = await rejectsWith(tool.probe(flac), 'media_limit_exceeded', 'too_long');
        assert.equal(err.details!.durationSeconds, 36_000);
        await decodeFails(flac, 'media_limit_exceeded', 'too_long');
        assert.ok(Date.now() - started < 10_000);
      });

      it('a WAV header claiming hours over a second of data decodes that second, quickly', async () => {
        const path = join(dir, 'claims-hours.wav');
        await writeFile(path, Buffer.concat([wavHeader(0xfffffff0 - 36, 16_000), Buffer.alloc(32_000)]));
        assert.equal((await tool.probe(path)).durationSeconds, 1);
        const { durationSeconds, warnings } = await tool.decodeAudio(path, join(dir, 'claims-hours-out.wav'));
        assert.equal(durationSeconds, 1);
        assert.deepEqual(codes(warnings), ['truncated'], 'the header declares far more than the file holds');
      });

      it('a file that understates its length stops at the duration limit (too_long)', async () => {
        // jfk.mp3's Xing header counts 308 frames; claim 20 (0.72 s) over 11 s of audio.
        const bytes = await readFile(`${SPEECH}/jfk/jfk.mp3`);
        const xing = bytes.indexOf('Xing');
        assert.equal(bytes.readUInt32BE(xing + 8), 308);
        bytes.writeUInt32BE(20, xing + 8);
        await writeFile(join(dir, 'understated.mp3'), bytes);
        const strict = harness.create({ maxDurationSeconds: 5 });
        assert.ok((await strict.probe(join(dir, 'understated.mp3'))).durationSeconds! < 1);
        await decodeFails(join(dir, 'understated.mp3'), 'media_limit_exceeded', 'too_long', strict);
      });

      it('a memory limit too small for ffmpeg fails as media_limit_exceeded', { skip: !harness.limitsMemory && 'no memory limit here' }, async () => {
        const tiny = harness.create({ maxMemoryBytes: 64 * 1024 * 1024 });
        await rejectsWith(tiny.probe(`${SPEECH}/jfk/jfk.wav`), 'media_limit_exceeded', 'memory');
      });
    });

    async function firstBytes(source: string, n: number, name: string): Promise<string> {
      const path = join(dir, name);
      await writeFile(path, (await readFile(source)).subarray(0, n));
      return path;
    }
  });
}

mediaToolContract('ffmpeg', {
  create: (limits = {}) => createFfmpegMediaTool(limits satisfies FfmpegMediaToolConfig),
  limitsMemory: existsSync('/usr/bin/prlimit') || existsSync('/bin/prlimit'),
});

async function assertMonoWav(path: string, sampleRate: number, durationSeconds: number): Promise<void> {
  const bytes = await readFile(path);
  const wav = parseWavHeader(bytes);
  assert.deepEqual({ rate: wav.sampleRate, channels: wav.channels, bits: wav.bitsPerSample }, { rate: sampleRate, channels: 1, bits: 16 });
  assert.equal(bytes.readUInt16LE(20), 1, 'PCM');
  assert.equal(wav.dataOffset, 44, 'a plain 44-byte header');
  assert.equal(wav.dataBytes, bytes.length - 44, 'the data size is written');
  assert.equal(bytes.readUInt32LE(4), bytes.length - 8, 'the RIFF size is written');
  assert.equal(wav.dataBytes / 2 / sampleRate, durationSeconds);
}

/** FLAC STREAMINFO's 36-bit total-samples field: the low 4 bits of byte 21, then bytes 22-25. */
function setFlacTotalSamples(bytes: Buffer, total: number): void {
  assert.equal(bytes.toString('ascii', 0, 4), 'fLaC');
  assert.equal(bytes[4]! & 0x7f, 0, 'STREAMINFO comes first');
  bytes[21] = (bytes[21]! & 0xf0) | Math.floor(total / 2 ** 32);
  bytes.writeUInt32BE(total % 2 ** 32, 22);
}

/** Pids of live processes whose command line contains `text` (our temp paths are unique). */
function processesMentioning(text: string): number[] {
  if (!existsSync('/proc/self/cmdline')) return [];
  const found: number[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text)) found.push(Number(pid));
    } catch {}
  }
  return found;
}

/**
 * A FIFO that tells whether anyone opened it for reading. Our writer's open blocks until a reader
 * comes; a reader that is ffmpeg then blocks on read until the writer closes, which happens only after
 * `opened` is set, so the answer is in before ffmpeg can exit. `release` unblocks our own writer.
 */
async function fifoSentinel(path: string, options: { exists?: boolean } = {}): Promise<{ path: string; release(): Promise<boolean> }> {
  if (!options.exists) await execFileP('mkfifo', [path]);
  let released = false;
  let opened = false;
  const writer = open(path, 'w').then(async (handle) => {
    if (!released) opened = true;
    await handle.close();
  });
  return {
    path,
    async release() {
      released = true;
      const reader = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
      await writer;
      await reader.close();
      return opened;
    },
  };
}
