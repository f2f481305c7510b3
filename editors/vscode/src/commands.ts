// The palette commands: each agent action on the active editor's selection or cursor, sent as
// `workspace/executeCommand tandem.<action>` with one object argument (docs/protocol.md), a task
// across the workspace, the job commands (accept, reject, cancel, status) and the team's rules.
//
// Their ids are `tandem.palette.*`: the client registers `tandem.explain` and the others itself
// from the server's executeCommandProvider, for the code actions to run.

import * as vscode from 'vscode';
import { LanguageClient } from 'vscode-languageclient/node';

import { DOCUMENT_SELECTOR } from './client';
import { Jobs, Undecided, describeJob, errorText, fileName } from './jobs';
import { showMarkdown } from './markdown';
import { showRules } from './rules';
import { RunningJob, Status, running, statusMarkdown } from './status';
import { TaskArgument } from './task';

export interface Host {
    /** The running client, or a message to the user and undefined. */
    client(): LanguageClient | undefined;
    /** Runs a server command with one argument and answers its result. */
    execute(command: string, argument: object): Promise<unknown>;
    /** Starts a task (asking for the instruction when it has none); undefined if the user cancelled. */
    task(client: LanguageClient, argument: TaskArgument): Promise<unknown>;
    jobs: Jobs;
    /** Asks the server for its status (and refreshes the status bar). */
    status(): Promise<Status | undefined>;
    /** Refreshes the status bar (after a job started). */
    refreshSoon(): void;
}

type Editing = { editor: vscode.TextEditor; client: LanguageClient; uri: string };

function editing(host: Host): Editing | undefined {
    const editor = vscode.window.activeTextEditor;
    if (editor === undefined) {
        void vscode.window.showWarningMessage('Tandem: open a file first.');
        return undefined;
    }
    const client = host.client();
    if (client === undefined) {
        return undefined;
    }
    return { editor, client, uri: client.code2ProtocolConverter.asUri(editor.document.uri) };
}

/** The selection, or the cursor's whole line(s) when nothing is selected. */
function selectionOrLines(editor: vscode.TextEditor): vscode.Range {
    const selection = editor.selection;
    if (!selection.isEmpty) {
        return selection;
    }
    const line = selection.active.line;
    const last = editor.document.lineCount - 1;
    return line < last
        ? new vscode.Range(line, 0, line + 1, 0)
        : new vscode.Range(line, 0, line, editor.document.lineAt(line).text.length);
}

async function startJob(host: Host, action: string, argument: object): Promise<void> {
    try {
        await host.execute(`tandem.${action}`, argument);
        host.refreshSoon();
    } catch (error) {
        void vscode.window.showErrorMessage(`Tandem: ${action}: ${errorText(error)}`);
    }
}

async function action(host: Host, name: string): Promise<void> {
    const at = editing(host);
    if (at === undefined) {
        return;
    }
    const { editor, client, uri } = at;
    const c2p = client.code2ProtocolConverter;
    switch (name) {
        case 'explain':
            return startJob(host, name, { uri, range: c2p.asRange(editor.selection) });
        case 'fix': {
            // The problems the editor knows there (from any server), for the model to fix.
            const range = editor.selection.isEmpty
                ? editor.document.lineAt(editor.selection.active.line).range
                : editor.selection;
            const problems = vscode.languages
                .getDiagnostics(editor.document.uri)
                .filter((d) => d.range.intersection(range) !== undefined);
            const diagnostics = await c2p.asDiagnostics(problems);
            return startJob(host, name, { uri, range: c2p.asRange(editor.selection), diagnostics });
        }
        case 'implement':
        case 'document':
        case 'tests':
            return startJob(host, name, { uri, position: c2p.asPosition(editor.selection.active) });
        case 'review':
            return startJob(host, name, { uri });
        case 'edit': {
            const range = selectionOrLines(editor);
            const instruction = await vscode.window.showInputBox({
                title: 'Tandem: Edit Selection',
                prompt: 'How should Tandem rewrite the selection?',
                placeHolder: 'for instance: use an iterator instead of the loop',
                ignoreFocusOut: true,
            });
            if (instruction === undefined || instruction.trim() === '') {
                return;
            }
            return startJob(host, name, { uri, range: c2p.asRange(range), instruction });
        }
    }
}

/**
 * "Tandem: Task…": the instruction from an input box; the active editor and its selection say
 * where the user stands, when the server serves that document.
 */
async function task(host: Host): Promise<void> {
    const client = host.client();
    if (client === undefined) {
        return;
    }
    const argument: TaskArgument = {};
    const editor = vscode.window.activeTextEditor;
    if (editor !== undefined && vscode.languages.match(DOCUMENT_SELECTOR, editor.document) > 0) {
        const c2p = client.code2ProtocolConverter;
        argument.uri = c2p.asUri(editor.document.uri);
        if (!editor.selection.isEmpty) {
            argument.range = c2p.asRange(editor.selection);
        }
    }
    try {
        if ((await host.task(client, argument)) !== undefined) {
            host.refreshSoon();
        }
    } catch (error) {
        void vscode.window.showErrorMessage(`Tandem: task: ${errorText(error)}`);
    }
}

/** Picks one of the finished edits not yet accepted or rejected. */
async function pickUndecided(host: Host, verb: string): Promise<Undecided | undefined> {
    const jobs = host.jobs.undecided;
    if (jobs.length === 0) {
        void vscode.window.showInformationMessage(`Tandem: no finished edit to ${verb}.`);
        return undefined;
    }
    if (jobs.length === 1) {
        return jobs[0];
    }
    const picked = await vscode.window.showQuickPick(
        jobs.map((job) => ({ label: describeJob(job), description: `job ${String(job.jobId)}`, job })),
        { title: `Tandem: ${verb} which edit?` },
    );
    return picked?.job;
}

async function runningJobs(host: Host): Promise<RunningJob[]> {
    return running(await host.status());
}

export async function cancelJob(host: Host, job: RunningJob): Promise<void> {
    try {
        await host.execute('tandem.cancel', { jobId: job.jobId });
    } catch (error) {
        void vscode.window.showErrorMessage(`Tandem: cancel failed: ${errorText(error)}`);
    }
    host.refreshSoon();
}

async function cancel(host: Host): Promise<void> {
    const jobs = await runningJobs(host);
    if (jobs.length === 0) {
        void vscode.window.showInformationMessage('Tandem: no job is running.');
        return;
    }
    const job =
        jobs.length === 1
            ? jobs[0]
            : (
                  await vscode.window.showQuickPick(
                      jobs.map((j) => ({ label: `${j.action} in ${fileName(j.uri)}`, description: `job ${String(j.jobId)}`, job: j })),
                      { title: 'Tandem: cancel which job?' },
                  )
              )?.job;
    if (job !== undefined) {
        await cancelJob(host, job);
    }
}

export async function showStatus(host: Host): Promise<void> {
    const status = await host.status();
    if (status !== undefined) {
        await showMarkdown('Tandem: status', statusMarkdown(status));
    }
}

/** The status bar's menu: the details, and a Cancel entry per running job. */
async function menu(host: Host): Promise<void> {
    const jobs = await runningJobs(host);
    type Entry = vscode.QuickPickItem & { run: () => Promise<void> };
    const entries: Entry[] = [
        { label: '$(info) Status', description: 'endpoint, settings, jobs, counters', run: () => showStatus(host) },
        ...jobs.map((job) => ({
            label: `$(close) Cancel ${job.action}`,
            description: `${fileName(job.uri)} (job ${String(job.jobId)})`,
            run: () => cancelJob(host, job),
        })),
    ];
    const picked = await vscode.window.showQuickPick(entries, { title: 'Tandem' });
    await picked?.run();
}

export function registerCommands(host: Host): vscode.Disposable[] {
    const register = (id: string, run: () => Promise<void>) =>
        vscode.commands.registerCommand(`tandem.palette.${id}`, run);
    return [
        ...['explain', 'fix', 'implement', 'document', 'tests', 'review', 'edit'].map((name) =>
            register(name, () => action(host, name)),
        ),
        register('task', () => task(host)),
        register('accept', async () => {
            const job = await pickUndecided(host, 'accept');
            if (job !== undefined) {
                await host.jobs.decide('tandem.accept', job);
            }
        }),
        register('reject', async () => {
            const job = await pickUndecided(host, 'reject');
            if (job !== undefined) {
                await host.jobs.decide('tandem.reject', job);
            }
        }),
        register('rejectWithReason', async () => {
            const job = await pickUndecided(host, 'reject');
            if (job !== undefined) {
                await host.jobs.rejectWithReason(job);
            }
        }),
        register('rules', () => (host.client() === undefined ? Promise.resolve() : showRules(host.execute))),
        register('cancel', () => cancel(host)),
        register('status', () => showStatus(host)),
        register('menu', () => menu(host)),
    ];
}
