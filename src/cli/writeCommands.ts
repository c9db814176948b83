/** Commands that change the database: filled in by the runner issue. */
import type { Command } from 'commander';
import type { CommandContext } from './main.js';

export function registerWriteCommands(_program: Command, _contextFor: (c: Command) => CommandContext): void {}
