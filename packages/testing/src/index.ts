export * from './infrastructure';
export * from './isolation';
