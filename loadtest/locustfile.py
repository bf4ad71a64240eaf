"""Locust users for the sentiment service: see loadtest/mix.py for the mix.

locust -f loadtest/locustfile.py --host http://127.0.0.1:8000
"""

from __future__ import annotations

import json
import random

from locust import FastHttpUser, constant, task

from loadtest.mix import CHAPTER_MODELS, REFUSED, is_refusal, mix_models, next_call


class ReviewUser(FastHttpUser):
    wait_time = constant(0)  # closed loop: each user sends its next request as soon as it can

    def on_start(self) -> None:
        self.rng = random.Random()
        response = self.client.get("/models", name="/models")
        models = mix_models(response.json()["models"]) if response.ok else []
        self.models = models or CHAPTER_MODELS

    @task
    def call(self) -> None:
        call = next_call(self.rng, self.models)
        with self.client.post(
            call.path,
            data=json.dumps(call.body),
            headers={"content-type": "application/json"},
            name=call.kind,
            catch_response=True,
        ) as response:
            if response.status_code == call.expected_status:
                response.success()
            elif is_refusal(response.status_code, response.headers):
                # Counted apart from errors: the server said no, in time, and when to retry.
                response.failure(REFUSED)
            else:
                response.failure(f"status {response.status_code}, expected {call.expected_status}")
