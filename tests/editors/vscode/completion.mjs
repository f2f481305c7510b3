// The inline-suggestion case of run.mjs (TANDEM_CASE=completion): ghost text from the server's
// textDocument/inlineCompletion, accepted with Tab, then turned off from the status bar.
//
// The Rust test (editor_vscode.rs) queues the scripted model's fill-in-the-middle replies, all
// the same middle (COMPLETION), one per request VS Code may make while the user types, and checks
// the recorded requests afterwards: their prompt and suffix, and that none came after the toggle.

/**
 * What the user types on a new line after `fn add`, and the suggestion: the scripted model's
 * middle (the Rust test's), one line as the server shapes it where no block begins.
 */
const TYPED = 'const LIMIT: u32 =';
const COMPLETION = ' 10;';
/** What the user types once suggestions are off. */
const TYPED_OFF = 'const MORE: u32 =';

/** The settings the case adds: suggestions from the scripted model's FIM route, at once. */
export function completionSettings(controlUrl) {
    return {
        'tandem.completion.provider': 'openai',
        'tandem.completion.baseUrl': `${controlUrl}/v1`,
        'tandem.completion.name': 'test-model',
        'tandem.completion.debounceMs': 0,
        // The language client logs each request and response in the Tandem output channel: the
        // script waits there for an answer it cannot see in the editor.
        'tandem.trace.server': 'messages',
        // VS Code's own word suggestions would open their list over the ghost text, and Tab
        // would take the list's entry.
        'editor.quickSuggestions': { other: 'off', comments: 'off', strings: 'off' },
    };
}

/**
 * The active editor's text as the buffer holds it: Monaco's rows in visual order, without the
 * ghost text it draws inside them (NBSP → space).
 */
async function bufferText(page) {
    return page.evaluate(() => {
        const lines = document.querySelector('.editor-group-container.active .monaco-editor .view-lines');
        if (!lines) {
            return undefined;
        }
        return [...lines.querySelectorAll('.view-line')]
            .map((row) => {
                const copy = row.cloneNode(true);
                copy.querySelectorAll('[class*="ghost-text"]').forEach((ghost) => ghost.remove());
                return { top: parseFloat(row.style.top), text: copy.textContent.replace(/\u00a0/g, ' ') };
            })
            .sort((a, b) => a.top - b.top)
            .map((row) => row.text)
            .join('\n');
    });
}

/**
 * The ghost text the active editor shows: the part drawn on the cursor's line, then the lines of
 * the view zone below it (empty when there is none).
 */
async function ghostText(page) {
    return page.evaluate(() => {
        const editor = document.querySelector('.editor-group-container.active .monaco-editor');
        if (!editor) {
            return '';
        }
        const inline = [...editor.querySelectorAll('.view-lines .ghost-text-decoration')]
            .map((span) => span.textContent)
            .join('');
        const below = [...editor.querySelectorAll('.view-zones .view-line')]
            .filter((row) => row.querySelector('.ghost-text') !== null)
            .map((row) => ({ top: parseFloat(row.style.top || '0'), text: row.textContent }))
            .sort((a, b) => a.top - b.top)
            .map((row) => row.text);
        return [inline, ...below].join('\n').replace(/\u00a0/g, ' ');
    });
}

/**
 * Opens "Tandem: Status" and answers the server's status, parsed from the panel's JSON, once it
 * satisfies `wanted` (each try asks the server again).
 */
async function serverStatus(page, h, what, wanted) {
    return h.until(
        what,
        async () => {
            await h.palette(page, 'Tandem: Status');
            return await h.until(
                'the status panel',
                async () => {
                    for (const frame of page.frames()) {
                        const blocks = await frame.locator('pre').allTextContents().catch(() => []);
                        for (const block of blocks) {
                            try {
                                const status = JSON.parse(block);
                                if (wanted(status)) {
                                    return status;
                                }
                            } catch {
                                // Not the status block.
                            }
                        }
                    }
                    return undefined;
                },
                2_000,
                100,
            );
        },
        20_000,
        200,
    );
}

/**
 * How many `textDocument/inlineCompletion` requests the server has answered (not cancelled), by
 * the language client's trace in the Tandem output channel's text.
 */
function inlineAnswers(channel) {
    return (channel.match(/Received response 'textDocument\/inlineCompletion - \(\d+\)' in \d+ms\.$/gm) ?? []).length;
}

/**
 * (s) The user types `const LIMIT: u32 =` on a new line after `fn add`; the server's suggestion (the
 * scripted model's middle) shows as ghost text after the cursor, and Tab puts it in the buffer.
 * The accepted suggestion reaches the server (its `accepted` counter). Then a click on the
 * status bar's "Suggestions: on" turns them off: the item says so, the server has the setting,
 * and typing again makes an inline completion request the server answers without asking the
 * model (nor showing anything).
 *
 * `h` holds run.mjs's helpers (until, control, goTo, palette, log, shown) and `channel()`, the
 * Tandem output channel's text; `source` is main.rs.
 */
export async function inlineSuggestions(page, h, source) {
    const toggle = (state) => page.locator('.statusbar-item', { hasText: `Suggestions: ${state}` }).first();
    // The language client is running once the main item has the server's status.
    await page.locator('.statusbar-item', { hasText: /Tandem: (unknown|ok)/ }).first().waitFor({ state: 'visible', timeout: 60_000 });
    await toggle('on').waitFor({ state: 'visible', timeout: 10_000 });
    const lines = source.split('\n');
    const blank = lines.indexOf('', lines.indexOf('}')) + 1;
    // A new line below the blank one after `fn add`, then the keys.
    await h.goTo(page, blank, 1);
    await page.keyboard.press('Enter');
    await page.keyboard.type(TYPED, { delay: 40 });
    const ghost = await h.until('the suggestion as ghost text', async () => {
        const text = await ghostText(page);
        return text === COMPLETION ? text : undefined;
    }, 20_000, 50).catch(async (error) => {
        throw new Error(`${error.message}; the ghost text is ${JSON.stringify(await ghostText(page))}, the buffer:\n${await bufferText(page)}`);
    });
    h.log(`ghost text shown: ${JSON.stringify(ghost)}`);
    const typed = source.replace('}\n\n', `}\n\n${TYPED}\n`);
    if (h.shown((await bufferText(page)) ?? '') !== h.shown(typed)) {
        throw new Error(`the buffer should hold only what was typed while the suggestion shows:\n${await bufferText(page)}`);
    }
    await page.keyboard.press('Tab');
    const accepted = source.replace('}\n\n', `}\n\n${TYPED}${COMPLETION}\n`);
    await h.until('the suggestion in the buffer', async () => h.shown((await bufferText(page)) ?? '') === h.shown(accepted) || undefined, 10_000, 50).catch(async (error) => {
        throw new Error(`${error.message}; the editor shows:\n${await bufferText(page)}\nexpected:\n${accepted}`);
    });
    h.log('Tab accepted the suggestion');
    const afterAccept = await serverStatus(page, h, 'the server to count the accepted suggestion', (s) => (s.completion?.accepted ?? 0) >= 1);
    h.log(`the server counts ${JSON.stringify(afterAccept.completion)}`);
    if (afterAccept.settings?.completion?.enabled !== true) {
        throw new Error(`the server should have suggestions on: ${JSON.stringify(afterAccept.settings?.completion)}`);
    }

    await toggle('on').click();
    await toggle('off').waitFor({ state: 'visible', timeout: 10_000 });
    await serverStatus(page, h, 'the server to have suggestions off', (s) => s.settings?.completion?.enabled === false);
    // The item still says off once the server's own status has come back.
    await toggle('off').waitFor({ state: 'visible', timeout: 10_000 });
    h.log('suggestions turned off from the status bar');
    const modelBefore = (await h.control('requests')).length;
    const answeredBefore = inlineAnswers(h.channel());
    await page.locator('.editor-group-container.active .monaco-editor .view-lines').click();
    await page.keyboard.press('Control+End');
    await page.keyboard.press('Enter');
    await page.keyboard.type(TYPED_OFF, { delay: 40 });
    // VS Code still asks (the server decides). It asks once the typing pauses, and drops the
    // question if the editor loses the focus first: wait, in the editor, for an answer.
    await h.until('an inline completion request answered with suggestions off', () => inlineAnswers(h.channel()) > answeredBefore || undefined, 15_000, 100);
    // The server answers only after the model's stream, so a request to the model would be
    // recorded by now.
    const modelAfter = (await h.control('requests')).length;
    if (modelAfter !== modelBefore) {
        throw new Error(`the model was asked with suggestions off: ${modelBefore} → ${modelAfter} requests`);
    }
    if ((await ghostText(page)) !== '') {
        throw new Error(`ghost text with suggestions off: ${JSON.stringify(await ghostText(page))}`);
    }
    h.log('with suggestions off the server answered without asking the model');
}
