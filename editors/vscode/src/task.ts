// Tasks (`tandem.task`): the agent across files. Asks for the instruction, starts the job with a
// work-done token of its own so that its steps show in a notification (with Cancel) while it
// runs, and logs every step (`tandem/jobStep`) to the Tandem output channel. How it ends (the
// summary, Accept / Reject) is jobs.ts's.

import * as vscode from 'vscode';
import { ExecuteCommandRequest, LanguageClient, WorkDoneProgress } from 'vscode-languageclient/node';

/** `tandem.task`'s one argument: the instruction, and where the user stands (optional). */
export interface TaskArgument {
    instruction?: string;
    uri?: string;
    range?: unknown;
}

/** `tandem/jobStep`: one step of a task. */
export interface JobStep {
    jobId: unknown;
    /** 1-based: the model turn it belongs to. */
    step: number;
    tool: string;
    path?: string;
    summary: string;
}

/** Asks for the task's instruction; undefined when the user cancelled or gave none. */
export async function askInstruction(): Promise<string | undefined> {
    const instruction = await vscode.window.showInputBox({
        title: 'Tandem: Task',
        prompt: 'What should Tandem do? It reads, searches and edits files across the workspace.',
        placeHolder: 'for instance: rename `twice` to `double` everywhere',
        ignoreFocusOut: true,
    });
    const trimmed = instruction?.trim();
    return trimmed === undefined || trimmed === '' ? undefined : trimmed;
}

/** One step as a line of the output channel. */
export function stepLine(step: JobStep): string {
    const path = step.path ? ` ${step.path}` : '';
    return `Tandem: task ${String(step.jobId)} · step ${step.step} · ${step.tool}${path}: ${step.summary}`;
}

let tokens = 0;

export class Tasks {
    /** What closes each running task's notification, by job id. */
    private readonly open = new Map<string, () => void>();
    /** Tasks that ended before their command answered (their notification closes at once). */
    private readonly endedEarly = new Set<string>();

    constructor(
        private readonly output: vscode.OutputChannel,
        /** Runs a server command with one argument (`tandem.cancel`). */
        private readonly execute: (command: string, argument: object) => Promise<unknown>,
    ) {}

    /** A new server started: the old one's tasks are gone with it, and so are their notifications. */
    serverStarted(): void {
        for (const close of [...this.open.values()]) {
            close();
        }
        this.endedEarly.clear();
    }

    /** `tandem/jobStep`. */
    step(step: JobStep): void {
        this.output.appendLine(stepLine(step));
    }

    /** The task `jobId` ended (`tandem/jobFinished`): its notification goes. */
    ended(jobId: unknown): void {
        const close = this.open.get(String(jobId));
        if (close === undefined) {
            this.endedEarly.add(String(jobId));
            return;
        }
        close();
    }

    /**
     * Starts a task: asks for the instruction when `argument` has none (a code action's), then
     * sends `tandem.task` and answers its `{jobId}`, or undefined when the user cancelled.
     */
    async start(client: LanguageClient, argument: TaskArgument): Promise<unknown> {
        const instruction = argument.instruction?.trim() || (await askInstruction());
        if (instruction === undefined) {
            return undefined;
        }
        tokens += 1;
        const token = `tandem-task-${process.pid}-${tokens}`;
        let close = (): void => {};
        const closed = new Promise<void>((resolve) => (close = resolve));
        let report: (message: string) => void = () => {};
        let jobId: unknown;
        let cancelled = false;
        const cancel = (): void => {
            if (jobId !== undefined) {
                void this.execute('tandem.cancel', { jobId }).catch(() => {});
            }
        };
        // The server's own words for each step ("reading src/db.rs") arrive as `$/progress`.
        const listening = client.onProgress(WorkDoneProgress.type, token, (value) => {
            if (value.kind === 'end') {
                close();
            } else if (value.message) {
                report(value.message);
            }
        });
        void vscode.window
            .withProgress(
                { location: vscode.ProgressLocation.Notification, title: 'Tandem: task', cancellable: true },
                async (progress, cancellation) => {
                    report = (message) => progress.report({ message });
                    report(instruction.length > 60 ? `${instruction.slice(0, 59)}…` : instruction);
                    cancellation.onCancellationRequested(() => {
                        cancelled = true;
                        cancel();
                    });
                    await closed;
                },
            )
            .then(() => listening.dispose());
        try {
            const answer = (await client.sendRequest(ExecuteCommandRequest.type, {
                command: 'tandem.task',
                arguments: [{ ...argument, instruction }],
                workDoneToken: token,
            })) as { jobId?: unknown } | null;
            jobId = answer?.jobId;
            if (jobId === undefined) {
                close();
                return answer;
            }
            const id = String(jobId);
            if (this.endedEarly.delete(id)) {
                close();
            } else {
                this.open.set(id, () => {
                    this.open.delete(id);
                    close();
                });
            }
            if (cancelled) {
                cancel();
            }
            return answer;
        } catch (error) {
            close();
            throw error;
        }
    }
}
