export { table, createOutput, type Output } from './output.js';
