;;; smoke.el --- Tandem in Emacs + eglot: a code action's edit lands in the buffer -*- lexical-binding: t -*-

;; Run by tests/tests/editor_emacs.rs as `emacs --batch -l smoke.el` (without -Q, so Debian's
;; site start finds eglot), with TANDEM_BIN, TANDEM_TEST_MODEL_URL and TANDEM_TEST_FILE set.
;; It is configured the way the README tells an Emacs user to: `eglot-server-programs' with
;; the settings as :initializationOptions.  Exits 0 when the model's fix is in the buffer.

(require 'eglot)
(require 'project)

(defvar tandem-smoke-finished nil
  "The params of the `tandem/jobFinished' notification, once it came.")

;; What a user's init file can do too: hear how a job ended.
(cl-defmethod eglot-handle-notification (_server (_method (eql tandem/jobFinished)) &rest params)
  (setq tandem-smoke-finished params)
  (message "Tandem: %s %s %s" (plist-get params :action) (plist-get params :status)
           (or (plist-get params :message) "")))

(defun tandem-smoke-fail (format-string &rest args)
  (message "FAIL: %s" (apply #'format format-string args))
  (message "buffer:\n%s" (buffer-string))
  (when (eglot-current-server)
    (message "eglot events:\n%s"
             (with-current-buffer (jsonrpc-events-buffer (eglot-current-server)) (buffer-string))))
  (kill-emacs 1))

(defun tandem-smoke-wait (what predicate seconds)
  "Process events until PREDICATE holds, or fail saying WHAT after SECONDS."
  (let ((deadline (+ (float-time) seconds)))
    (while (not (funcall predicate))
      (when (> (float-time) deadline)
        (tandem-smoke-fail "timed out waiting for %s" what))
      (accept-process-output nil 0.05)
      ;; Batch Emacs is never idle, so eglot's idle timer that sends didChange never fires
      ;; on its own; run the timers that an interactive Emacs would run here.
      (dolist (timer (copy-sequence timer-idle-list))
        (timer-event-handler timer)))))

(let* ((bin (or (getenv "TANDEM_BIN") (tandem-smoke-fail "TANDEM_BIN is not set")))
       (url (or (getenv "TANDEM_TEST_MODEL_URL") (tandem-smoke-fail "TANDEM_TEST_MODEL_URL is not set")))
       (file (or (getenv "TANDEM_TEST_FILE") (tandem-smoke-fail "TANDEM_TEST_FILE is not set")))
       (root (file-name-directory file)))
  (setq eglot-confirm-server-initiated-edits nil)
  (when (boundp 'eglot-confirm-server-edits) (setq eglot-confirm-server-edits nil))
  (setq eglot-send-changes-idle-time 0.05)
  (add-hook 'project-find-functions (lambda (_dir) (cons 'transient root)))
  (add-to-list 'eglot-server-programs
               `(python-mode . (,bin :initializationOptions
                                     (:model (:provider "openai" :baseUrl ,url :name "test-model")
                                      :hover (:enabled :json-false)))))
  (find-file file)
  (python-mode)
  ;; `eglot-ensure' waits for a command loop that batch Emacs does not run; start it as M-x eglot would.
  (apply #'eglot (eglot--guess-contact))
  (tandem-smoke-wait "eglot to connect" (lambda () (eglot-current-server)) 30)
  (message "connected: %s" (eglot--project-nickname (eglot-current-server)))
  ;; The syntax error is on line 2: ask for the quick fix at a point there (the target is the
  ;; function around it) and run the only one.
  (goto-char (point-min))
  (forward-line 1)
  (forward-char 4)
  (eglot-code-actions (point) (point) "quickfix" t)
  (tandem-smoke-wait "the job to finish" (lambda () tandem-smoke-finished) 30)
  (message "job finished: %S" tandem-smoke-finished)
  (message "buffer now:\n%s" (buffer-string))
  (unless (equal (plist-get tandem-smoke-finished :status) "done")
    (tandem-smoke-fail "the job did not end done"))
  (unless (equal (buffer-string) "def add(a, b):\n    return a + b\n")
    (tandem-smoke-fail "the buffer does not hold the model's fix"))
  (kill-emacs 0))
