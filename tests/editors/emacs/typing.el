;;; typing.el --- Tandem in Emacs + eglot: typing above and below a streaming implement -*- lexical-binding: t -*-

;; Run by tests/tests/editor_emacs.rs as `emacs --batch -l typing.el' (without -Q, so Debian's
;; site start finds eglot), with TANDEM_BIN, TANDEM_TEST_MODEL_URL, TANDEM_CONTROL_URL (the
;; scripted model server, whose gated chunks this script lets out) and TANDEM_TEST_FILE (a
;; double.rs with `fn double' between a `// top' and a `// bottom' line) set.
;;
;; The user picks "Tandem: Implement `double'" from eglot's code actions, and while the model's
;; function streams in, chunk by chunk, types new lines above and below it, a key at a time
;; with `insert' at point (which runs `after-change-functions', as typing does), some of them
;; racing a chunk.  Checks: every snapshot of the buffer taken while streaming (a timer, every
;; 20 ms) has as many `{' as `}'; the job ends done; the buffer ends exactly as expected; and
;; the lines one job adds to *Messages* fit on one screen.  Exits 0 when all held.
;;
;; With TANDEM_TEST_LONG set, the user stays idle and the function streams for ten seconds, a
;; line every 250 ms (36 of them): the job must still fit on one screen of *Messages*.
;;
;; With TANDEM_TEST_BELOW set, the user types a line below the function (reported when they
;; pause), then a long line below it without a pause while the rest of the function streams:
;; it must be written in full before their last key (eglot reports nothing while they type).
;;
;; With TANDEM_TEST_ABOVE set, the same above the function: the user types a line above it
;; (reported when they pause), then a long line above without a pause while the rest streams.
;; Its new lines must show before their last key (each edit then only inserts whole lines: the
;; new line above, not reported yet, may put them a line off until eglot reports).

(require 'cl-lib)
(require 'eglot)
(require 'project)
(require 'json)

(defconst tandem-typing-max-messages 10
  "Most lines one job may add to *Messages* (one screen).")

(defconst tandem-typing-max-messages-long 16
  "Most lines a ten-second job may add to *Messages* (with TANDEM_TEST_LONG set).")

(defconst tandem-typing-long-body
  (mapcar (lambda (i) (format "    let y%d = x + %d;\n" i i)) (number-sequence 1 36))
  "The body of the ten-second stream, a line per chunk.")

(defconst tandem-typing-key-interval 0.04
  "Seconds between two keys of a steady typist.")

(defvar tandem-typing-finished nil
  "The params of the `tandem/jobFinished' notification, once it came.")

(defvar tandem-typing-last-key 0.0
  "When the user last typed (`float-time'): Emacs is idle from then on.")

;; Heard, and kept quiet: what *Messages* gets from a job is what eglot and the server put there.
(cl-defmethod eglot-handle-notification (_server (_method (eql tandem/jobFinished)) &rest params)
  (setq tandem-typing-finished params))

(defun tandem-typing-log (format-string &rest args)
  "Print to stderr without going through *Messages*."
  (princ (concat (apply #'format format-string args) "\n") #'external-debugging-output))

(defun tandem-typing-fail (format-string &rest args)
  (tandem-typing-log "FAIL: %s" (apply #'format format-string args))
  (tandem-typing-log "buffer:\n%s" (buffer-string))
  (tandem-typing-log "*Messages*:\n%s" (with-current-buffer (messages-buffer) (buffer-string)))
  (when (eglot-current-server)
    (tandem-typing-log "eglot events:\n%s"
                       (with-current-buffer (jsonrpc-events-buffer (eglot-current-server))
                         (buffer-string))))
  (kill-emacs 1))

(defun tandem-typing-pump (seconds)
  "Process events for SECONDS, running the idle timers an idle Emacs would run.
Batch Emacs is never idle, so eglot's idle timer that sends didChange would never fire: an
idle timer runs here once the user has not typed for its idle time, as it would interactively."
  (let ((until (+ (float-time) seconds)))
    (while (progn
             (accept-process-output nil (min 0.02 (max 0.001 (- until (float-time)))))
             (let ((idle (- (float-time) tandem-typing-last-key)))
               (dolist (timer (copy-sequence timer-idle-list))
                 (when (>= idle (float-time (timer--time timer)))
                   (timer-event-handler timer))))
             (< (float-time) until)))))

(defun tandem-typing-wait (what predicate seconds)
  "Process events until PREDICATE holds, or fail saying WHAT after SECONDS."
  (let ((deadline (+ (float-time) seconds)))
    (while (not (funcall predicate))
      (when (> (float-time) deadline)
        (tandem-typing-fail "timed out waiting for %s" what))
      (tandem-typing-pump 0.02))))

(defun tandem-typing-wait-for (text)
  (tandem-typing-wait (format "%S to stream in" text)
                      (lambda () (save-excursion (goto-char (point-min)) (search-forward text nil t)))
                      20))

(defun tandem-typing-control (route body &optional wait)
  "POST BODY (JSON) to the scripted model server's ROUTE; with WAIT, wait for the answer."
  (let ((url (concat (string-remove-suffix "/" (getenv "TANDEM_CONTROL_URL")) "/__scripted/" route))
        (args (list "-sS" "--max-time" "10" "-X" "POST" "--data-binary" (json-encode body))))
    (if wait
        (with-temp-buffer
          (unless (zerop (apply #'call-process "curl" nil t nil (append args (list url))))
            (tandem-typing-fail "POST %s failed: %s" route (buffer-string))))
      (make-process :name "tandem-release" :command (append '("curl") args (list url))
                    :buffer nil :noquery t))))

(defun tandem-typing-release (n &optional soon)
  "Let N more chunks out; with SOON, without waiting for the answer (the user keeps typing)."
  (tandem-typing-control "release" `((n . ,n)) (not soon)))

(defun tandem-typing-line-end (line)
  "The end of the first line that is exactly LINE."
  (save-excursion
    (goto-char (point-min))
    (unless (re-search-forward (concat "^" (regexp-quote line) "$") nil t)
      (tandem-typing-fail "no line %S" line))
    (point)))

(defun tandem-typing-type (after-line text &optional at-key)
  "Type a new line after the line AFTER-LINE: RET at its end, then TEXT, a key at a time.
AT-KEY is an alist (INDEX . FUNCTION): FUNCTION runs just before the key at INDEX (0 is RET)."
  (let ((at (copy-marker (tandem-typing-line-end after-line) t))
        (keys (cons ?\n (string-to-list text))))
    (cl-loop for key in keys
             for index from 0
             do (let ((hook (alist-get index at-key)))
                  (when hook (funcall hook)))
                (goto-char at)
                (insert key)
                (setq tandem-typing-last-key (float-time))
                (tandem-typing-pump tandem-typing-key-interval))
    (set-marker at nil)))

(defun tandem-typing-count (char text)
  (cl-count char text))

(let* ((bin (or (getenv "TANDEM_BIN") (tandem-typing-fail "TANDEM_BIN is not set")))
       (url (or (getenv "TANDEM_TEST_MODEL_URL") (tandem-typing-fail "TANDEM_TEST_MODEL_URL is not set")))
       (file (or (getenv "TANDEM_TEST_FILE") (tandem-typing-fail "TANDEM_TEST_FILE is not set")))
       (root (file-name-directory file))
       (snapshots 0)
       (distinct (make-hash-table :test #'equal))
       (bad nil)
       (snapshot-timer nil)
       (messages-before 0)
       (long (getenv "TANDEM_TEST_LONG"))
       (below (getenv "TANDEM_TEST_BELOW"))
       (above (getenv "TANDEM_TEST_ABOVE"))
       (long-line (format "// %s 2, a long line typed without a pause" (if above "above" "below")))
       (written-while-typing nil)
       ;; With TANDEM_TEST_ABOVE or _BELOW: when the rest of the function was let out, when the
       ;; user's last key of the long line was, and when its new line first showed (a snapshot).
       (released-at nil)
       (last-key-at nil)
       (shown-at nil))
  (unless (getenv "TANDEM_CONTROL_URL") (tandem-typing-fail "TANDEM_CONTROL_URL is not set"))
  (setq eglot-confirm-server-initiated-edits nil)
  (when (boundp 'eglot-confirm-server-edits) (setq eglot-confirm-server-edits nil))
  (add-hook 'project-find-functions (lambda (_dir) (cons 'transient root)))
  ;; Debian 12 has no rust-mode unless elpa-rust-mode is installed: a plain mode of that name
  ;; gives eglot the languageId "rust".
  (unless (fboundp 'rust-mode)
    (define-derived-mode rust-mode prog-mode "Rust"))
  (add-to-list 'eglot-server-programs
               `(rust-mode . (,bin :initializationOptions
                                   (:model (:provider "openai" :baseUrl ,url :name "test-model")
                                    :hover (:enabled :json-false)))))
  (find-file file)
  (rust-mode)
  (unless (equal (buffer-string) "// top\nfn double(x: u32) -> u32 {\n    todo!()\n}\n// bottom\n")
    (tandem-typing-fail "unexpected file"))
  ;; `eglot-ensure' waits for a command loop that batch Emacs does not run; start it as M-x eglot would.
  (apply #'eglot (eglot--guess-contact))
  (tandem-typing-wait "eglot to connect" (lambda () (eglot-current-server)) 30)

  (setq snapshot-timer
        (run-at-time 0 0.02
                     (lambda ()
                       (let ((text (buffer-string)))
                         (cl-incf snapshots)
                         (puthash text t distinct)
                         (unless (or bad (= (tandem-typing-count ?{ text) (tandem-typing-count ?} text)))
                           (setq bad text))
                         (when (and released-at (not shown-at) (string-search "    y * 2\n" text))
                           (setq shown-at (float-time)))))))
  (if long
      ;; A ten-second stream, a line every 250 ms, with the user idle.
      (tandem-typing-control "push" `((wire . "openai")
                                      (deltas . ,(vconcat (list "```rust\n" "fn double(x: u32) -> u32 {\n")
                                                          tandem-typing-long-body
                                                          (list "    x * 2\n" "}\n" "```\n")))
                                      (delayMs . 250))
                             t)
    (tandem-typing-control "push" '((wire . "openai")
                                    (deltas . ["```rust\n" "fn double(x: u32) -> u32 {\n"
                                               "    let y = x;\n" "    y * 2\n" "}\n" "```\n"])
                                    (gated . t))
                           t))
  (setq messages-before (with-current-buffer (messages-buffer) (count-lines (point-min) (point-max))))
  ;; The cursor in the body; the user picks Implement from the code actions' menu.
  (goto-char (point-min))
  (forward-line 2)
  (forward-char 6)
  (let ((last-nonmenu-event ?\r))
    (cl-letf (((symbol-function 'completing-read)
               (lambda (_prompt collection &rest _)
                 (or (cl-find-if (lambda (title) (string-prefix-p "Tandem: Implement" title))
                                 (mapcar #'car collection))
                     (tandem-typing-fail "no Implement action in %S" (mapcar #'car collection))))))
      (eglot-code-actions (point) (point) "refactor.rewrite" t)))
  (when (or above below)
    (let* ((side (if above "above" "below"))
           (first-line (format "// %s 1" side))
           ;; Below, the function must be whole; above, its new line must show (each edit then
           ;; only inserts, and may sit a line off until eglot reports).
           (shown (if above "    y * 2\n" "    y * 2\n}\n// bottom")))
      (tandem-typing-release 4)
      (tandem-typing-wait-for "    let y = x;")
      ;; A line on that side, then a pause: eglot reports it.
      (tandem-typing-type (if above "// top" "// bottom") first-line)
      (tandem-typing-pump 1.0)
      ;; The long line, the rest of the function let out at its third key; from the tenth key
      ;; on, each key looks whether it shows yet.
      (let ((check (lambda ()
                     (when (save-excursion
                             (goto-char (point-min))
                             (search-forward shown nil t))
                       (setq written-while-typing t)))))
        (tandem-typing-type first-line long-line
                            (cons `(3 . ,(lambda () (setq released-at (float-time)) (tandem-typing-release 10 t)))
                                  (cl-loop for i from 10 to (length long-line)
                                           collect (cons i check)))))
      (setq last-key-at tandem-typing-last-key)
      (unless written-while-typing
        (tandem-typing-fail "%S did not show while the user typed %s the function" shown side))))
  (unless (or long below above)
    ;; The role chunk, the fence, the signature (the same as the old one) and the first line.
    (tandem-typing-release 4)
    (tandem-typing-wait-for "    let y = x;")
    ;; Above, typed steadily.
    (tandem-typing-type "// top" "// above 1")
    ;; Below, typed steadily; the next line let out at the fourth key.
    (tandem-typing-type "// bottom" "// below 1" `((4 . ,(lambda () (tandem-typing-release 1 t)))))
    (tandem-typing-wait-for "    y * 2")
    ;; Above again, half typed when the closing brace is let out and lands, then the rest.
    (tandem-typing-type "// above 1" "// above"
                        `((5 . ,(lambda () (tandem-typing-release 1) (tandem-typing-pump 0.6)))))
    (let ((at (copy-marker (tandem-typing-line-end "// above") t)))
      (dolist (key (string-to-list " 2"))
        (goto-char at)
        (insert key)
        (setq tandem-typing-last-key (float-time))
        (tandem-typing-pump tandem-typing-key-interval)))
    ;; Below again, the rest of the stream let out at the third key.
    (tandem-typing-type "// below 1" "// below 2" `((3 . ,(lambda () (tandem-typing-release 10 t))))))

  (tandem-typing-wait "the job to finish" (lambda () tandem-typing-finished) 30)
  ;; What the job's end brings to *Messages* comes with it or just after.
  (tandem-typing-pump 1.0)
  (cancel-timer snapshot-timer)
  (let* ((messages (with-current-buffer (messages-buffer)
                     (save-excursion
                       (goto-char (point-min))
                       (forward-line messages-before)
                       (buffer-substring-no-properties (point) (point-max)))))
         (lines (length (split-string messages "\n" t))))
    (tandem-typing-log "job finished: %S" tandem-typing-finished)
    (when (and released-at shown-at)
      (tandem-typing-log "the new line showed %d ms after it was let out; the last key came %d ms after it"
                         (round (* 1000 (- shown-at released-at)))
                         (round (* 1000 (- last-key-at released-at)))))
    (tandem-typing-log "%d snapshots (%d distinct); *Messages* from the job, %d line(s):\n%s"
                       snapshots (hash-table-count distinct) lines messages)
    (unless (equal (plist-get tandem-typing-finished :status) "done")
      (tandem-typing-fail "the job did not end done: %S" tandem-typing-finished))
    (when bad
      (tandem-typing-fail "a snapshot while streaming lost a brace:\n%s" bad))
    (unless (>= (hash-table-count distinct) 4)
      (tandem-typing-fail "only %d distinct snapshots" (hash-table-count distinct)))
    (let ((expected (cond
                     (long
                      (concat "// top\nfn double(x: u32) -> u32 {\n"
                              (apply #'concat tandem-typing-long-body)
                              "    x * 2\n}\n// bottom\n"))
                     (below
                      (concat "// top\nfn double(x: u32) -> u32 {\n    let y = x;\n    y * 2\n}\n"
                              "// bottom\n// below 1\n" long-line "\n"))
                     (above
                      (concat "// top\n// above 1\n" long-line "\n"
                              "fn double(x: u32) -> u32 {\n    let y = x;\n    y * 2\n}\n// bottom\n"))
                     (t
                      (concat "// top\n// above 1\n// above 2\n"
                              "fn double(x: u32) -> u32 {\n    let y = x;\n    y * 2\n}\n"
                              "// bottom\n// below 1\n// below 2\n")))))
      (unless (equal (buffer-string) expected)
        (tandem-typing-fail "the buffer is not the expected one:\n%s" expected)))
    (when (> lines (if long tandem-typing-max-messages-long tandem-typing-max-messages))
      (tandem-typing-fail "the job added %d lines to *Messages*" lines)))
  (tandem-typing-log "PASS")
  (kill-emacs 0))
