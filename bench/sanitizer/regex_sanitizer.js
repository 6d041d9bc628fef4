// regex_sanitizer.js
//
// The design notes' Component 9 (src/lib/code-sanitizer.ts), kept as the
// baseline the C sanitizer is benchmarked against.  It is a faithful copy:
// the only difference is that the notes' mojibake is written as the
// characters it stands for ([“”], [‘’] and [—–]).  Do not "fix" it.
'use strict';

function sanitizeTypeScript(code) {
  const changes = [];
  let sanitized = code;

  // Fix unquoted module declarations
  const modulePattern = /declare module ([^'"][^\s{]+)/g;
  if (modulePattern.test(sanitized)) {
    sanitized = sanitized.replace(modulePattern, "declare module '$1'");
    changes.push('unquoted_module_declarations');
  }

  // Fix smart quotes
  if (/[“”]/.test(sanitized)) {
    sanitized = sanitized.replace(/[“”]/g, '"');
    changes.push('smart_double_quotes');
  }
  if (/[‘’]/.test(sanitized)) {
    sanitized = sanitized.replace(/[‘’]/g, "'");
    changes.push('smart_single_quotes');
  }

  // Fix em-dashes and en-dashes
  if (/[—–]/.test(sanitized)) {
    sanitized = sanitized.replace(/[—–]/g, '-');
    changes.push('unicode_dashes');
  }

  // Fix unclosed template literals (heuristic)
  const templatePattern = /`[^`]*$/gm;
  if (templatePattern.test(sanitized)) {
    sanitized = sanitized.replace(templatePattern, match => match + '`');
    changes.push('unclosed_template_literals');
  }

  return { sanitized, changes_made: changes };
}

module.exports = { sanitizeTypeScript };
