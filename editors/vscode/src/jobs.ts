// What the server says when a job ends (`tandem/jobFinished`), told to the user: failures and
// cancels as messages, finished edits with Accept / Reject / Reject with reason…, explanations as
// rendered Markdown.

import * as path from 'path';
import * as vscode from 'vscode';

import { showMarkdown } from './markdown';

export interface JobFinished {
    jobId: unknown;
    action: string;
    uri: string;
    status: 'done' | 'failed' | 'cancelled';
    message?: string;
    result?: { markdown?: string; range?: unknown; findings?: number; uri?: string };
}

/** A finished job that edited and was neither accepted nor rejected yet. */
export interface Undecided {
    jobId: unknown;
    action: string;
    uri: string;
    /** Which server run the job belongs to (job ids are per server process). */
    run: number;
}

/** The file a job was about, for messages. */
export function fileName(uri: string): string {
    try {
        return path.basename(vscode.Uri.parse(uri).path);
    } catch {
        return uri;
    }
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
                `Tandem: the server restarted since that ${job.action} finished; its edit stays as it is (undo with Ctrl+Z).`,
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
            title: `Tandem: Reject ${job.action} (${fileName(job.uri)})`,
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
        const what = `Tandem: ${job.action} (${where})`;
        if (job.status === 'failed') {
            void vscode.window.showErrorMessage(`${what} failed: ${job.message ?? 'no reason given'}`);
            return;
        }
        if (job.status === 'cancelled') {
            void vscode.window.showWarningMessage(`${what} was cancelled${job.message ? `: ${job.message}` : ''}`);
            return;
        }
        const result = job.result ?? {};
        if (typeof result.markdown === 'string') {
            await showMarkdown(`Tandem: ${job.action} (${where})`, result.markdown);
            return;
        }
        if (result.range !== undefined) {
            const entry: Undecided = { jobId: job.jobId, action: job.action, uri: job.uri, run: this.run };
            this.undecided.unshift(entry);
            this.undecided.splice(20);
            const text = job.message ? `${what} is done: ${job.message}` : `${what} is done.`;
            const show = job.message ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
            const choice = await show(text, 'Accept', 'Reject', REJECT_WITH_REASON);
            if (choice === 'Accept') {
                await this.decide('tandem.accept', entry);
            } else if (choice === 'Reject') {
                await this.decide('tandem.reject', entry);
            } else if (choice === REJECT_WITH_REASON) {
                await this.rejectWithReason(entry);
            }
            return;
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
