// The status bar item: the model endpoint's state and the running jobs, from `tandem.status`,
// polled at start, when a job starts or ends, and every 15 seconds.

import * as vscode from 'vscode';

import { fileName } from './jobs';

export interface RunningJob {
    jobId: unknown;
    action: string;
    uri: string;
    status: string;
}

export interface Status {
    settings?: { model?: { provider?: string; baseUrl?: string; name?: string } } & Record<string, unknown>;
    endpoint?: { url?: string; state?: string };
    jobs?: RunningJob[];
    counters?: Record<string, unknown>;
    [other: string]: unknown;
}

/** The jobs still running (the server also lists finished ones it remembers). */
export function running(status: Status | undefined): RunningJob[] {
    return (status?.jobs ?? []).filter((job) => job.status === 'running');
}

const POLL_MS = 15_000;
/** While jobs run, a quicker poll keeps the count honest if a notification is missed. */
const BUSY_POLL_MS = 3_000;

export class StatusBar implements vscode.Disposable {
    readonly item: vscode.StatusBarItem;
    last: Status | undefined;
    private readonly changed = new vscode.EventEmitter<Status | undefined>();
    /** Each status the server answers, and undefined when the server stops. */
    readonly onDidChange = this.changed.event;
    private timer: NodeJS.Timeout | undefined;
    private polling: Promise<void> | undefined;
    private again: Promise<void> | undefined;

    constructor(
        private readonly fetch: () => Promise<Status | undefined>,
        command: string,
    ) {
        this.item = vscode.window.createStatusBarItem('tandem.status', vscode.StatusBarAlignment.Right, 100);
        this.item.name = 'Tandem';
        this.item.command = command;
        this.starting();
        this.item.show();
    }

    starting(): void {
        this.item.text = '$(loading~spin) Tandem: starting';
        this.item.tooltip = 'Tandem: the language server is starting';
        this.item.backgroundColor = undefined;
    }

    stopped(reason: string): void {
        this.last = undefined;
        this.item.text = '$(error) Tandem: not running';
        this.item.tooltip = `Tandem: ${reason}`;
        this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
        this.changed.fire(undefined);
        this.schedule(POLL_MS);
    }

    /**
     * Asks the server now (and again later). While a request is in flight, asks once more after
     * it: its answer may predate what the caller just did (a settings change, a job started).
     */
    refresh(): Promise<void> {
        if (this.polling === undefined) {
            this.polling = this.poll().finally(() => {
                this.polling = undefined;
            });
            return this.polling;
        }
        this.again ??= this.polling.then(() => {
            this.again = undefined;
            return this.refresh();
        });
        return this.again;
    }

    private async poll(): Promise<void> {
        try {
            const status = await this.fetch();
            if (status !== undefined) {
                this.show(status);
            }
        } catch {
            // The server is restarting or gone; the client reports that itself.
        } finally {
            this.schedule(running(this.last).length > 0 ? BUSY_POLL_MS : POLL_MS);
        }
    }

    private schedule(ms: number): void {
        if (this.timer !== undefined) {
            clearTimeout(this.timer);
        }
        this.timer = setTimeout(() => void this.refresh(), ms);
    }

    private show(status: Status): void {
        this.last = status;
        const jobs = running(status);
        const state = status.endpoint?.state ?? 'unknown';
        const url = status.endpoint?.url ?? 'no endpoint';
        if (jobs.length > 0) {
            this.item.text = `$(sync~spin) Tandem: ${jobs.length} job${jobs.length === 1 ? '' : 's'}`;
        } else if (state === 'unreachable') {
            this.item.text = '$(warning) Tandem: unreachable';
        } else {
            this.item.text = `$(sparkle) Tandem: ${state}`;
        }
        this.item.backgroundColor =
            state === 'unreachable' ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
        const model = status.settings?.model;
        const lines = [`Tandem: model endpoint ${url} (${state})`];
        if (model?.name) {
            lines.push(`Model: ${model.name}${model.provider ? ` (${model.provider})` : ''}`);
        }
        for (const job of jobs) {
            lines.push(`Running: ${job.action} in ${fileName(job.uri)}`);
        }
        lines.push('Click for status and jobs');
        this.item.tooltip = lines.join('\n');
        this.changed.fire(status);
    }

    dispose(): void {
        if (this.timer !== undefined) {
            clearTimeout(this.timer);
        }
        this.changed.dispose();
        this.item.dispose();
    }
}

/** The status as Markdown, for the details panel. */
export function statusMarkdown(status: Status): string {
    const jobs = running(status);
    const lines = [
        `**Model endpoint:** \`${status.endpoint?.url ?? '?'}\` — ${status.endpoint?.state ?? 'unknown'}`,
        '',
        jobs.length === 0 ? '**Running jobs:** none' : '**Running jobs:**',
        '',
        ...jobs.map((job) => `- ${job.action} in \`${fileName(job.uri)}\` (job ${String(job.jobId)})`),
        '',
        '**Everything the server reported:**',
        '',
        '```json',
        JSON.stringify(status, null, 2),
        '```',
    ];
    return lines.join('\n');
}
