import { EarshotError } from '../core/errors.js';
import { commandHelp, configFrom, parseCommand, type Command } from './command.js';
import { evalCommand } from './eval.js';
import { jobsCommand } from './jobs.js';
import { keysCommand } from './keys.js';
import { migrateCommand } from './migrate.js';
import { modelsCommand } from './models.js';
import { serveCommand } from './serve.js';
import { transcribeCommand } from './transcribe.js';
import { VERSION } from './version.js';
import { workerCommand } from './worker.js';

const commands: Command[] = [serveCommand, workerCommand, transcribeCommand, evalCommand, migrateCommand, keysCommand, jobsCommand, modelsCommand];

function mainHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    `earshot ${VERSION}: a self-hosted media pipeline on a durable task engine.`,
    '',
    'Usage: earshot <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary.split('. ')[0]!.replace(/\.$/, '')}.`),
    '',
    'Run "earshot <command> --help" for its options. Every setting can also be given as an',
    'EARSHOT_* environment variable.',
    '',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(mainHelp());
    return 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`earshot: unknown command "${name}"\n\n${mainHelp()}`);
    return 2;
  }
  try {
    const { args, values } = parseCommand(command, rest);
    if (values.help) {
      process.stdout.write(commandHelp(command));
      return 0;
    }
    return (await command.run({ args, values, config: configFrom(values), out: process.stdout, err: process.stderr })) ?? 0;
  } catch (err) {
    if (err instanceof EarshotError) {
      process.stderr.write(`earshot ${name}: ${err.message}\n`);
      return err.code === 'bad_request' || err.code === 'invalid_config' ? 2 : 1;
    }
    throw err;
  }
}

process.exitCode = await main(process.argv.slice(2));
