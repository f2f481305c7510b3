// Packages the extension for one platform with the `tandem` server inside it, as rust-analyzer's
// extension carries its server: copies the binary to server/tandem (server/tandem.exe on
// Windows), builds, runs `vsce package --target <platform>`, then removes the copy so the
// universal `npm run package` never picks it up.
//
//   node scripts/package.mjs [--server <binary>] [--target <vsce target>] [--out <file.vsix>]
//
// --server   the binary to carry; default: the repository's target/release/tandem, else
//            target/debug/tandem (build one with `cargo build --release -p tandem`)
// --target   a vsce platform (linux-x64, linux-arm64, darwin-x64, darwin-arm64, win32-x64, ...);
//            default: this machine's. The binary must be built for it.
// --out      default: tandem-<target>.vsix in editors/vscode

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const extensionDir = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const repoRoot = path.resolve(extensionDir, '..', '..');

function fail(message) {
    console.error(`package: ${message}`);
    process.exit(1);
}

function parseArgs(argv) {
    const args = {};
    for (let i = 0; i < argv.length; i += 1) {
        const name = argv[i];
        if (!['--server', '--target', '--out'].includes(name)) {
            fail(`unknown argument ${JSON.stringify(name)} (known: --server, --target, --out)`);
        }
        const value = argv[i + 1];
        if (value === undefined) {
            fail(`${name} needs a value`);
        }
        args[name.slice(2)] = value;
        i += 1;
    }
    return args;
}

const args = parseArgs(process.argv.slice(2));
const target = args.target ?? `${process.platform}-${process.arch}`;
const windows = target.startsWith('win32');
const exe = windows ? 'tandem.exe' : 'tandem';
const candidates = ['release', 'debug'].map((profile) => path.join(repoRoot, 'target', profile, exe));
const server = args.server !== undefined ? path.resolve(args.server) : candidates.find((file) => fs.existsSync(file));
if (server === undefined) {
    fail(`no server binary: tried ${candidates.join(' and ')}. Build one (\`cargo build --release -p tandem\`) or pass --server <binary>.`);
}
if (!fs.existsSync(server)) {
    fail(`the server binary ${server} does not exist. Build it (\`cargo build --release -p tandem\`) or pass another with --server.`);
}
const out = path.resolve(args.out ?? path.join(extensionDir, `tandem-${target}.vsix`));

const run = (command, commandArgs) => {
    const result = spawnSync(command, commandArgs, { cwd: extensionDir, stdio: ['ignore', 'inherit', 'inherit'] });
    if (result.status !== 0) {
        fail(`${command} ${commandArgs.join(' ')} failed (${result.status ?? result.signal ?? result.error})`);
    }
};

const bundledDir = path.join(extensionDir, 'server');
const bundled = path.join(bundledDir, exe);
fs.rmSync(bundledDir, { recursive: true, force: true });
fs.mkdirSync(bundledDir, { recursive: true });
try {
    fs.copyFileSync(server, bundled);
    fs.chmodSync(bundled, 0o755);
    console.log(`package: carrying ${server} as server/${exe}`);
    run('npm', ['run', 'build']);
    const vsce = path.join(extensionDir, 'node_modules', '.bin', 'vsce');
    if (!fs.existsSync(vsce)) {
        fail(`${vsce} is missing: run \`npm ci\` in ${extensionDir} first`);
    }
    run(vsce, ['package', '--target', target, '--no-dependencies', '--allow-missing-repository', '--out', out]);
} finally {
    fs.rmSync(bundledDir, { recursive: true, force: true });
}
console.log(`package: made ${out} (${target}, server inside)`);
