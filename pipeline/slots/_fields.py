"""The field kinds the extractor fills, in output order, each with the function that reads it from one utterance."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hotline.pipeline.slots._context import Utterance
from hotline.pipeline.slots.amount import extract_amount
from hotline.pipeline.slots.appointment_time import extract_appointment_time
from hotline.pipeline.slots.billing_month import extract_billing_month
from hotline.pipeline.slots.broadband_account import extract_broadband_account
from hotline.pipeline.slots.channel import extract_channel
from hotline.pipeline.slots.charge_item import extract_charge_item
from hotline.pipeline.slots.device import extract_device
from hotline.pipeline.slots.fault_number import extract_fault_number
from hotline.pipeline.slots.fault_time import extract_fault_time
from hotline.pipeline.slots.id_verified import extract_id_verified
from hotline.pipeline.slots.location import extract_location
from hotline.pipeline.slots.order_time import extract_order_time
from hotline.pipeline.slots.phone import extract_phone
from hotline.pipeline.slots.roaming_place import extract_roaming_place
from hotline.pipeline.slots.sms_content import extract_sms_content
from hotline.pipeline.slots.sp_name import extract_sp_name

__all__ = ["FIELDS", "FIELD_NAMES", "NUMBER_FIELDS", "TIME_FIELDS"]

FIELDS: dict[str, Callable[[Utterance], dict[str, Any] | None]] = {
    "phone": extract_phone,
    "location": extract_location,
    "device": extract_device,
    "fault_time": extract_fault_time,
    "fault_number": extract_fault_number,
    "amount": extract_amount,
    "billing_month": extract_billing_month,
    "id_verified": extract_id_verified,
    "order_time": extract_order_time,
    "channel": extract_channel,
    "appointment_time": extract_appointment_time,
    "broadband_account": extract_broadband_account,
    "sms_content": extract_sms_content,
    "charge_item": extract_charge_item,
    "sp_name": extract_sp_name,
    "roaming_place": extract_roaming_place,
}
FIELD_NAMES: tuple[str, ...] = tuple(FIELDS)
NUMBER_FIELDS = frozenset({"phone", "fault_number", "broadband_account"})
"""Fields whose value is digits: a digit correction (最后一位是7) applies to them."""
TIME_FIELDS = frozenset({"fault_time", "order_time", "appointment_time"})
