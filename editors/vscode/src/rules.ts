// The team's rules (docs/protocol.md, "Learning"): a rule the server proposes
// (`tandem/ruleProposed`) is shown with Approve / Edit… / Reject, and "Tandem: Rules" lists the
// proposed and approved rules. Approving has the server write the rule into `.tandem/rules.md`.

import * as vscode from 'vscode';

import { errorText } from './jobs';

export interface Evidence {
    jobId: unknown;
    path: string;
    diff: string;
}

export interface Proposal {
    id: number;
    text: string;
    /** A glob the rule applies to; null or missing: every file. */
    scope?: string | null;
    evidence?: Evidence[];
}

export interface RulesAnswer {
    proposed: Proposal[];
    approved: { text: string; scope?: string | null }[];
}

/** Runs a server command with one argument and answers its result. */
export type Execute = (command: string, argument: object) => Promise<unknown>;

const APPROVE = 'Approve';
const EDIT = 'Edit…';
const REJECT = 'Reject';

function quoted(proposal: { text: string; scope?: string | null }): string {
    return `“${proposal.text}”${proposal.scope ? ` (for ${proposal.scope})` : ''}`;
}

function corrections(proposal: Proposal): string {
    const n = proposal.evidence?.length ?? 0;
    return n === 1 ? 'learned from 1 correction' : `learned from ${n} corrections`;
}

/** Where the rules live: `.tandem/rules.md` in the first workspace folder. */
function rulesFile(): vscode.Uri | undefined {
    const folder = vscode.workspace.workspaceFolders?.[0];
    return folder === undefined ? undefined : vscode.Uri.joinPath(folder.uri, '.tandem', 'rules.md');
}

/** The open document of `file`, if any. */
function openDocument(file: vscode.Uri | undefined): vscode.TextDocument | undefined {
    return file === undefined ? undefined : vscode.workspace.textDocuments.find((d) => d.uri.toString() === file.toString());
}

/** How long an approved rule's edit may take to reach `.tandem/rules.md` after the answer. */
const EDIT_WAIT_MS = 10_000;

/**
 * Saves `file` once it holds `written`: the server's `workspace/applyEdit` may land before or
 * after its answer to `tandem.rules.approve`, so `changes` (subscribed before the request) says
 * when it lands after.
 */
async function saveOnceWritten(file: vscode.Uri, written: string, changes: RulesFileChanges): Promise<void> {
    try {
        let document: vscode.TextDocument | undefined = await vscode.workspace.openTextDocument(file).then(
            (d) => d,
            () => undefined,
        );
        if (document === undefined || !document.getText().includes(written)) {
            document = await changes.until((d) => d.getText().includes(written), EDIT_WAIT_MS);
        }
        if (document === undefined) {
            void vscode.window.showWarningMessage(`Tandem: the rule did not reach .tandem/rules.md within ${EDIT_WAIT_MS / 1000} s.`);
        } else if (document.isDirty) {
            await document.save();
        }
    } catch (error) {
        void vscode.window.showWarningMessage(`Tandem: .tandem/rules.md is not saved: ${errorText(error)}`);
    }
}

/** The changes to one file's document (and its opening), from the moment it is made until disposed. */
class RulesFileChanges implements vscode.Disposable {
    private readonly waiting: { test: (d: vscode.TextDocument) => boolean; done: (d: vscode.TextDocument) => void }[] = [];
    private readonly subscriptions: vscode.Disposable[];

    constructor(file: vscode.Uri) {
        const seen = (document: vscode.TextDocument) => {
            if (document.uri.toString() !== file.toString()) {
                return;
            }
            for (const waiter of this.waiting.filter((w) => w.test(document))) {
                waiter.done(document);
            }
        };
        // A file the edit creates can reach the extension already holding the rule (opened, not
        // changed).
        this.subscriptions = [
            vscode.workspace.onDidOpenTextDocument(seen),
            vscode.workspace.onDidChangeTextDocument((event) => seen(event.document)),
        ];
    }

    /** The document once a change makes `test` hold, or undefined after `timeoutMs`. */
    until(test: (d: vscode.TextDocument) => boolean, timeoutMs: number): Promise<vscode.TextDocument | undefined> {
        return new Promise((resolve) => {
            const waiter = {
                test,
                done: (d: vscode.TextDocument | undefined) => {
                    clearTimeout(timer);
                    this.waiting.splice(this.waiting.indexOf(waiter), 1);
                    resolve(d);
                },
            };
            const timer = setTimeout(() => waiter.done(undefined), timeoutMs);
            this.waiting.push(waiter);
        });
    }

    dispose(): void {
        for (const subscription of this.subscriptions) {
            subscription.dispose();
        }
    }
}

/**
 * Has the server write the rule (or the person's `text`) into `.tandem/rules.md`, then saves that
 * file, unless it held unsaved changes of the user's before (those are theirs to save).
 */
async function approve(execute: Execute, proposal: Proposal, text?: string): Promise<void> {
    const file = rulesFile();
    const dirtyBefore = openDocument(file)?.isDirty ?? false;
    const changes = file === undefined ? undefined : new RulesFileChanges(file);
    let written: string;
    try {
        const argument = text === undefined ? { id: proposal.id } : { id: proposal.id, text };
        const answer = (await execute('tandem.rules.approve', argument)) as { text?: string } | null;
        written = answer?.text ?? text ?? proposal.text;
        if (!dirtyBefore && file !== undefined && changes !== undefined) {
            await saveOnceWritten(file, written, changes);
        }
    } catch (error) {
        void vscode.window.showErrorMessage(`Tandem: approving the rule failed: ${errorText(error)}`);
        return;
    } finally {
        changes?.dispose();
    }
    const choice = await vscode.window.showInformationMessage(
        `Tandem: added to .tandem/rules.md: “${written}”`,
        ...(file === undefined ? [] : ['Open rules.md']),
    );
    if (choice !== undefined && file !== undefined) {
        await vscode.window.showTextDocument(file);
    }
}

/** Asks for the rule's wording, prefilled; empty or cancelled: nothing happens. */
async function edit(execute: Execute, proposal: Proposal): Promise<void> {
    const text = await vscode.window.showInputBox({
        title: 'Tandem: Edit Rule',
        prompt: `The rule as it goes into .tandem/rules.md${proposal.scope ? ` (for ${proposal.scope})` : ''}`,
        value: proposal.text,
        ignoreFocusOut: true,
    });
    if (text === undefined || text.trim() === '') {
        return;
    }
    await approve(execute, proposal, text.trim() === proposal.text ? undefined : text.trim());
}

async function reject(execute: Execute, proposal: Proposal): Promise<void> {
    try {
        await execute('tandem.rules.reject', { id: proposal.id });
    } catch (error) {
        void vscode.window.showErrorMessage(`Tandem: rejecting the rule failed: ${errorText(error)}`);
    }
}

async function decide(execute: Execute, proposal: Proposal, choice: string | undefined): Promise<void> {
    switch (choice) {
        case APPROVE:
            return approve(execute, proposal);
        case EDIT:
            return edit(execute, proposal);
        case REJECT:
            return reject(execute, proposal);
    }
}

/** The proposals already shown, by id: `tandem.rules.propose` answers one the server also announces. */
const shown = new Set<number>();

/** A new server started: its proposals are new to this session. */
export function serverStarted(): void {
    shown.clear();
}

/**
 * `tandem/ruleProposed` (and a proposal asked for): the rule, with Approve / Edit… / Reject,
 * once per proposal. Not awaited by the notification handler.
 */
export async function proposed(execute: Execute, proposal: Proposal): Promise<void> {
    if (shown.has(proposal.id)) {
        return;
    }
    shown.add(proposal.id);
    const choice = await vscode.window.showInformationMessage(
        `Tandem proposes a rule: ${quoted(proposal)}, ${corrections(proposal)}.`,
        APPROVE,
        EDIT,
        REJECT,
    );
    await decide(execute, proposal, choice);
}

/**
 * "Tandem: Rules": the proposed rules (picking one offers Approve / Edit… / Reject), the
 * approved ones (picking one opens `.tandem/rules.md`), and asking the model for a rule now.
 */
export async function showRules(execute: Execute): Promise<void> {
    let rules: RulesAnswer;
    try {
        rules = (await execute('tandem.rules', {})) as RulesAnswer;
    } catch (error) {
        void vscode.window.showErrorMessage(`Tandem: listing the rules failed: ${errorText(error)}`);
        return;
    }
    type Entry = vscode.QuickPickItem & { run?: () => Promise<void> };
    const entries: Entry[] = [];
    if (rules.proposed.length > 0) {
        entries.push({ label: 'Proposed', kind: vscode.QuickPickItemKind.Separator });
        for (const proposal of rules.proposed) {
            entries.push({
                label: `$(lightbulb) ${proposal.text}`,
                description: proposal.scope ?? 'every file',
                detail: corrections(proposal),
                run: async () => {
                    const choice = await vscode.window.showQuickPick([APPROVE, EDIT, REJECT], {
                        title: `Tandem: ${quoted(proposal)}`,
                    });
                    await decide(execute, proposal, choice);
                },
            });
        }
    }
    const file = rulesFile();
    const open = async () => {
        if (file !== undefined) {
            await vscode.window.showTextDocument(file);
        }
    };
    if (rules.approved.length > 0) {
        entries.push({ label: 'Approved (.tandem/rules.md)', kind: vscode.QuickPickItemKind.Separator });
        for (const rule of rules.approved) {
            entries.push({ label: `$(check) ${rule.text}`, description: rule.scope ?? 'every file', run: open });
        }
    }
    entries.push({ label: '', kind: vscode.QuickPickItemKind.Separator });
    entries.push({
        label: '$(sparkle) Propose a rule now',
        description: 'from the corrections not yet covered by a rule',
        run: async () => {
            try {
                const proposal = (await execute('tandem.rules.propose', {})) as Proposal | null;
                if (proposal === null) {
                    void vscode.window.showInformationMessage('Tandem: no rule to propose from the corrections so far.');
                    return;
                }
                await proposed(execute, proposal);
            } catch (error) {
                void vscode.window.showErrorMessage(`Tandem: proposing a rule failed: ${errorText(error)}`);
            }
        },
    });
    const picked = await vscode.window.showQuickPick(entries, {
        title: 'Tandem: Rules',
        placeHolder:
            rules.proposed.length === 0
                ? 'No rule waits for a decision'
                : `${rules.proposed.length} proposed rule${rules.proposed.length === 1 ? '' : 's'} to decide`,
        matchOnDescription: true,
    });
    await picked?.run?.();
}
