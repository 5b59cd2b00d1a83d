"""faults.py - switches that tests flip through POST /_sim/faults to make the world misbehave.

One Faults object is shared by every part of the world. The control API (azdo side) writes it;
the Kubernetes API server and the Azure DevOps service read it on each request. Attributes are
plain values so reads need no lock (a torn read of one bool or float is harmless here).
"""

import threading


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        # --- Kubernetes API server ---
        self.kube_error_rate = 0.0      # fraction of non-watch requests answered 500 InternalError
        self.kube_latency_ms = 0        # added before answering every request
        self.kube_timeout_rate = 0.0    # fraction of requests that hang until the client gives up
        self.drop_watches = 0           # number of currently open watch streams to cut now
        self.force_watch_expiry = False # next watch with a resourceVersion gets 410 Gone
        # --- Azure DevOps ---
        self.azdo_throttle = False      # every API call gets 429 with Retry-After
        self.azdo_retry_after_s = 2     # value of that Retry-After header
        self.azdo_throttle_count = 0    # when > 0: throttle just this many calls, then stop
        self.azdo_error_rate = 0.0      # fraction of API calls answered 500
        self.azdo_latency_ms = 0        # added before answering every API call
        self.revoked_pats = set()       # PAT values the service now refuses (203 sign-in / 401)
        self.expired_pats = set()       # PAT values answered 401 + X-TFS-ServiceError "expired"
        self.azdo_soft_throttle = False # 200s carry Retry-After, X-RateLimit-Remaining: 0, -Delay
        self.azdo_history_latency_ms = 0  # extra delay for jobrequests calls that list finished jobs
        self.azdo_busy_delete_status = 0  # DELETE of a busy agent: 0 = accepted (its job is lost),
                                          # else refused with this HTTP status
        self.azdo_max_page = 200        # cap on job requests per response (real service: ~200)
        self.azdo_disabled_agents_match = True  # disabled agents count when deciding whether
                                                # a new job can queue at all
        # --- simulated agents ---
        self.agent_unregister_on_sigterm = True  # False: terminated agents stay registered, offline
        self.agent_register_delay_s = 1.0  # container running -> agent online
        self.job_receive_delay_s = 0.5     # assignTime -> receiveTime
        self.lost_job_timeout_s = 0.0      # agent lost mid-job -> the job fails this much later

    def to_json(self):
        with self.lock:
            d = {k: v for k, v in self.__dict__.items() if k != "lock"}
            d["revoked_pats"] = len(self.revoked_pats)  # never echo PAT values
            d["expired_pats"] = len(self.expired_pats)
            return d
