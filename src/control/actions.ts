// The imperative side of the API: each action validates, writes desired state in one transaction, records events
// and returns the wire object. Reconcilers (reconcile*.ts) then move statuses along. One module per resource.
export type { ActionContext } from './actions-common.ts';
export { createApp, updateApp, deleteApp, pauseApp, resumeApp } from './actions-apps.ts';
export {
  createService, updateService, redeployService, pauseService, resumeService, deleteService,
} from './actions-services.ts';
export { cancelDeployment, deploymentDiff, insertNewDeployment } from './actions-deployments.ts';
export { getServiceScaling, putServiceScaling, deleteServiceScaling, deploymentScaling } from './actions-scaling.ts';
export { createSecret, getSecretView, updateSecret, deleteSecret, revealSecret } from './actions-secrets.ts';
