// placeholder replaced below in this commit series
export async function startInfrastructure(): Promise<void> {}
export async function stopInfrastructure(): Promise<void> {}
