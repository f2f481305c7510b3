// What the server says when a job ends (`tandem/jobFinished`), told to the user: failures and
// cancels as messages, finished edits with Accept / Reject / Reject with reason…, explanations as
// rendered Markdown, a task's summary as rendered Markdown and its files to accept or reject (and
// so any job that names the files it changed: an action run by an ACP agent).

import * as path from 'path';
import * as vscode from 'vscode';

import { showMarkdown } from './markdown';

export interface JobFinished {
    jobId: unknown;
    action: string;
    uri: string;
    status: 'done' | 'failed' | 'cancelled';
    message?: string;
    result?: {
        markdown?: string;
        range?: unknown;
        findings?: number;
        uri?: string;
        /** A task's, or an ACP agent's editing action's: the files it touched. */
        files?: TaskFile[];
    };
}

/** A file a task edited or created. */
export interface TaskFile {
    uri: string;
    created?: boolean;
}

/** A finished job that edited and was neither accepted nor rejected yet. */
export interface Undecided {
    jobId: unknown;
    action: string;
    uri: string;
    /** Which server run the job belongs to (job ids are per server process). */
    run: number;
    /** A task's files. */
    files?: string[];
}

/** The file a job was about, for messages. */
export function fileName(uri: string): string {
    try {
        return path.basename(vscode.Uri.parse(uri).path);
    } catch {
        return uri;
    }
}

/** A job in words, for lists: "edit in main.rs", "task (2 files)". */
export function describeJob(job: { action: string; uri: string; files?: string[] }): string {
    if (job.files !== undefined) {
        return `${job.action} (${job.files.length === 1 ? fileName(job.files[0]) : `${job.files.length} files`})`;
    }
    return `${job.action} in ${fileName(job.uri)}`;
}

/** A task's summary, then the files it touched (relative to the workspace). */
export function taskMarkdown(summary: string | undefined, files: TaskFile[]): string {
    const parts = [summary?.trim() || '*The task ended without a summary.*'];
    if (files.length > 0) {
        const names = files.map((file) => {
            let name = file.uri;
            try {
                name = vscode.workspace.asRelativePath(vscode.Uri.parse(file.uri));
            } catch {
                // Shown as the server named it.
            }
            return `- \`${name}\`${file.created ? ' (created)' : ''}`;
        });
        parts.push('---', '**Files**', names.join('\n'));
    }
    return parts.join('\n\n');
}

/** The third button of a finished edit's notification. */
const REJECT_WITH_REASON = 'Reject with reason…';

export class Jobs {
    /** Newest first. */
    readonly undecided: Undecided[] = [];
    /** Counts server starts. */
    private run = 0;

    /** `execute` runs a server command (`tandem.accept` / `tandem.reject`) with one argument. */
    constructor(private readonly execute: (command: string, argument: object) => Promise<unknown>) {}

    /** A new server started: the old one's jobs are gone with it. */
    serverStarted(): void {
        this.run += 1;
        this.undecided.length = 0;
    }

    /**
     * Keeps or takes back a finished job's edit, and forgets it. A rejection's `reason` goes to
     * the server, which learns from it (it may propose a rule for `.tandem/rules.md`).
     */
    async decide(command: 'tandem.accept' | 'tandem.reject', job: Undecided, reason?: string): Promise<void> {
        if (job.run !== this.run) {
            void vscode.window.showWarningMessage(
                `Tandem: the server restarted since that ${job.action} finished; its edits stay as they are (undo with Ctrl+Z).`,
            );
            return;
        }
        const index = this.undecided.findIndex((j) => j.jobId === job.jobId);
        if (index >= 0) {
            this.undecided.splice(index, 1);
        }
        try {
            await this.execute(command, reason === undefined ? { jobId: job.jobId } : { jobId: job.jobId, reason });
        } catch (error) {
            void vscode.window.showErrorMessage(`Tandem: ${command === 'tandem.accept' ? 'accept' : 'reject'} failed: ${errorText(error)}`);
        }
    }

    /**
     * Asks why, then takes the edit back with that reason. Cancelling the question decides
     * nothing (the edit stays, still to accept or reject); an empty answer is a plain reject.
     */
    async rejectWithReason(job: Undecided): Promise<void> {
        const reason = await vscode.window.showInputBox({
            title: `Tandem: Reject ${job.files === undefined ? `${job.action} (${fileName(job.uri)})` : describeJob(job)}`,
            prompt: 'Why reject it? Tandem learns from your reasons and may propose a rule for .tandem/rules.md.',
            placeHolder: 'for instance: we build strings with format!, not push_str',
            ignoreFocusOut: true,
        });
        if (reason === undefined) {
            return;
        }
        const trimmed = reason.trim();
        await this.decide('tandem.reject', job, trimmed === '' ? undefined : trimmed);
    }

    /** Tells the user how a job ended. Not awaited by the notification handler. */
    async finished(job: JobFinished): Promise<void> {
        const where = fileName(job.uri);
        // A task is about the workspace, not the file the user stood in.
        const what = job.action === 'task' ? 'Tandem: task' : `Tandem: ${job.action} (${where})`;
        if (job.status === 'failed') {
            void vscode.window.showErrorMessage(`${what} failed: ${job.message ?? 'no reason given'}`);
            return;
        }
        if (job.status === 'cancelled') {
            void vscode.window.showWarningMessage(`${what} was cancelled${job.message ? `: ${job.message}` : ''}`);
            return;
        }
        const result = job.result ?? {};
        // An action run by an ACP agent (`model.provider: "acp"`) keeps its name (`fix`, …) but
        // ends like a task: the agent may have changed any files, and names them.
        if (job.action === 'task' || Array.isArray(result.files)) {
            return this.taskFinished(job, what);
        }
        if (typeof result.markdown === 'string') {
            await showMarkdown(`Tandem: ${job.action} (${where})`, result.markdown);
            return;
        }
        if (result.range !== undefined) {
            const entry: Undecided = { jobId: job.jobId, action: job.action, uri: job.uri, run: this.run };
            const text = job.message ? `${what} is done: ${job.message}` : `${what} is done.`;
            return this.offerDecision(entry, text, Boolean(job.message));
        }
        if (typeof result.findings === 'number') {
            const n = result.findings;
            void vscode.window.showInformationMessage(
                `${what}: ${n === 0 ? 'no findings' : n === 1 ? '1 finding (in Problems)' : `${n} findings (in Problems)`}`,
            );
            return;
        }
        if (job.message) {
            void vscode.window.showInformationMessage(`${what}: ${job.message}`);
        }
    }

    /**
     * A finished task (or a job that names the files it changed): its summary opens like an
     * explanation; the files it touched wait for a decision.
     */
    private async taskFinished(job: JobFinished, what: string): Promise<void> {
        const files = (job.result?.files ?? []).filter((file) => typeof file?.uri === 'string');
        await showMarkdown(what, taskMarkdown(job.result?.markdown, files));
        if (files.length === 0) {
            const text = job.message ? `${what} is done: ${job.message}` : `${what} is done; it changed no file.`;
            void vscode.window.showInformationMessage(text);
            return;
        }
        const entry: Undecided = {
            jobId: job.jobId,
            action: job.action,
            uri: job.uri,
            run: this.run,
            files: files.map((file) => file.uri),
        };
        const names = files.map((file) => fileName(file.uri)).join(', ');
        const changed = `${files.length === 1 ? '1 file' : `${files.length} files`} changed (${names})`;
        const text = job.message ? `${what} is done: ${changed}: ${job.message}` : `${what} is done: ${changed}.`;
        return this.offerDecision(entry, text, Boolean(job.message));
    }

    /** Remembers a finished job that edited, and offers Accept / Reject / Reject with reason…. */
    private async offerDecision(entry: Undecided, text: string, warn: boolean): Promise<void> {
        this.undecided.unshift(entry);
        this.undecided.splice(20);
        const show = warn ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
        const choice = await show(text, 'Accept', 'Reject', REJECT_WITH_REASON);
        if (choice === 'Accept') {
            await this.decide('tandem.accept', entry);
        } else if (choice === 'Reject') {
            await this.decide('tandem.reject', entry);
        } else if (choice === REJECT_WITH_REASON) {
            await this.rejectWithReason(entry);
        }
    }
}

export function errorText(error: unknown): string {
    if (error instanceof Error) {
        return error.message;
    }
    if (typeof error === 'object' && error !== null && 'message' in error) {
        return String((error as { message: unknown }).message);
    }
    return String(error);
}
