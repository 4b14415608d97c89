"""Placeholder: routes for the 'trainingset' group are being written."""

from flask import Blueprint

blueprint = Blueprint("trainingset", __name__)
